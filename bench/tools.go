package bench

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// kafkaTool runs one of Kafka's Java tools through scripts/kafka.sh and
// returns its standard output.
func kafkaTool(ctx context.Context, root string, class string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, consumeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "kafka.sh"),
		append([]string{"tool", "org.apache.kafka.tools." + class}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("running %s: %w: %s", class, err, lastLines(errb.String()+out.String(), 5))
	}
	return out.String(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// consumerPerformance drains topic with Kafka's ConsumerPerformance (its
// default consumer settings, which equal veltrix's fetch defaults: 500 ms
// fetch wait, 1 MiB per partition, 50 MiB per fetch; auto-commit on) and
// returns fetch.nMsg.sec: records/s excluding its group join.
func consumerPerformance(ctx context.Context, root string, brokers []string, topic string, n int) (float64, error) {
	out, err := kafkaTool(ctx, root, "ConsumerPerformance", "--bootstrap-server", strings.Join(brokers, ","),
		"--topic", topic, "--num-records", strconv.Itoa(n), "--group", uniqueName("bench-kafka-consumer"),
		"--timeout", "20000", "--hide-header")
	if err != nil {
		return 0, err
	}
	return parseConsumerPerformance(out, n)
}

// parseConsumerPerformance reads ConsumerPerformance's CSV line: start.time,
// end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
// rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec.
func parseConsumerPerformance(out string, n int) (float64, error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, ",")
		if len(f) != 10 {
			continue
		}
		got, err1 := strconv.ParseFloat(strings.TrimSpace(f[4]), 64)
		rate, err2 := strconv.ParseFloat(strings.TrimSpace(f[9]), 64)
		if err1 != nil || err2 != nil {
			continue
		}
		if int(got) < n {
			return 0, fmt.Errorf("ConsumerPerformance consumed %d of %d records", int(got), n)
		}
		return rate, nil
	}
	return 0, fmt.Errorf("no result line in ConsumerPerformance's output: %s", lastLines(out, 3))
}

// producerPerformance writes n records of size bytes with Kafka's
// ProducerPerformance at the shared producer settings and returns its
// records/s.
func producerPerformance(ctx context.Context, root string, brokers []string, topic string, n, size int) (float64, error) {
	s := equalProduce
	out, err := kafkaTool(ctx, root, "ProducerPerformance", "--bootstrap-server", strings.Join(brokers, ","),
		"--topic", topic, "--num-records", strconv.Itoa(n), "--record-size", strconv.Itoa(size), "--throughput", "-1",
		"--command-property", "acks="+s.Acks, "linger.ms="+strconv.FormatInt(s.Linger.Milliseconds(), 10),
		"batch.size="+strconv.FormatInt(s.BatchMaxBytes, 10), "compression.type="+s.Compression,
		"enable.idempotence="+strconv.FormatBool(s.Idempotent), "client.id=vbench-kafka-producer")
	if err != nil {
		return 0, err
	}
	return parseProducerPerformance(out, n)
}

var producerLine = regexp.MustCompile(`(\d+) records sent, ([0-9.]+) records/sec`)

// parseProducerPerformance reads the final summary line: "N records sent,
// X records/sec (Y MB/sec), ...".
func parseProducerPerformance(out string, n int) (float64, error) {
	var rate float64
	found := false
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "th") { // the summary carries the percentiles
			continue
		}
		m := producerLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		sent, _ := strconv.Atoi(m[1])
		if sent != n {
			continue
		}
		rate, _ = strconv.ParseFloat(m[2], 64)
		found = true
	}
	if !found {
		return 0, fmt.Errorf("no summary line for %d records in ProducerPerformance's output: %s", n, lastLines(out, 3))
	}
	return rate, nil
}

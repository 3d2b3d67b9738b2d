package faults

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/veltrix/veltrix/internal/kafkatest"
)

// lagRow is one partition's committed offset, log end and lag as a tool
// printed it.
type lagRow struct{ committed, end, lag int64 }

// lagSample is `veltrix lag` and Kafka's ConsumerGroupCommand asked about
// the run's group at the same moment.
type lagSample struct {
	at            time.Time
	veltrix, tool map[int32]lagRow
	toolTook      time.Duration
	err           error
}

// lagCompare samples `veltrix lag --once --json` and Kafka's own
// `kafka-consumer-groups --describe` (ConsumerGroupCommand, through
// scripts/kafka.sh tool) side by side, started together, every few seconds
// until stop: during a fault the offsets and lag veltrix reports must
// agree with Kafka's tool, and never be negative or spike.
type lagCompare struct {
	r       *run
	mu      sync.Mutex
	samples []lagSample
	stop    chan struct{}
	done    chan struct{}
}

func compareLag(r *run) *lagCompare {
	c := &lagCompare{r: r, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			s := c.sample()
			c.mu.Lock()
			c.samples = append(c.samples, s)
			c.mu.Unlock()
			select {
			case <-c.stop:
				return
			case <-time.After(time.Second):
			}
		}
	}()
	return c
}

// close stops sampling once the sample under way ends.
func (c *lagCompare) close() []lagSample {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]lagSample(nil), c.samples...)
}

func (c *lagCompare) sample() lagSample {
	s := lagSample{at: time.Now()}
	var wg sync.WaitGroup
	var verr, terr error
	wg.Add(2)
	// The JVM takes seconds to start before it asks; veltrix is started
	// after that much of the tool's last start-up, so both read close to
	// the same moment.
	delay := c.lastToolTook() * 3 / 4
	go func() {
		defer wg.Done()
		time.Sleep(delay)
		s.veltrix, verr = c.veltrixLag()
	}()
	go func() {
		defer wg.Done()
		began := time.Now()
		s.tool, terr = c.toolLag()
		s.toolTook = time.Since(began)
	}()
	wg.Wait()
	switch {
	case verr != nil:
		s.err = verr
	case terr != nil:
		s.err = terr
	}
	return s
}

func (c *lagCompare) lastToolTook() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.samples) - 1; i >= 0; i-- {
		if c.samples[i].toolTook > 0 {
			return c.samples[i].toolTook
		}
	}
	return 0
}

func (c *lagCompare) veltrixLag() (map[int32]lagRow, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, c.r.env.Bin, "lag", "--once", "--json", "--brokers", strings.Join(c.r.env.Brokers, ","),
		"--group", "^"+c.r.group+"$").Output()
	if err != nil {
		return nil, fmt.Errorf("veltrix lag: %w\n%s", err, out)
	}
	// The fields of `veltrix lag --json` compared (docs/lag.md).
	var snap struct {
		Groups []struct {
			Partitions []struct {
				Topic     string `json:"topic"`
				Partition int32  `json:"partition"`
				Current   *int64 `json:"current_offset"`
				End       int64  `json:"log_end_offset"`
				Lag       int64  `json:"lag"`
			} `json:"partitions"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(out, &snap); err != nil {
		return nil, fmt.Errorf("parsing veltrix lag --json: %w\n%s", err, out)
	}
	rows := map[int32]lagRow{}
	for _, g := range snap.Groups {
		for _, p := range g.Partitions {
			if p.Topic == c.r.in && p.Current != nil {
				rows[p.Partition] = lagRow{*p.Current, p.End, p.Lag}
			}
		}
	}
	return rows, nil
}

func (c *lagCompare) toolLag() (map[int32]lagRow, error) {
	script, err := kafkatest.Script()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, script, "tool", "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
		"--bootstrap-server", strings.Join(c.r.env.Brokers, ","), "--describe", "--group", c.r.group).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("ConsumerGroupCommand: %w\n%s", err, out)
	}
	rows := map[int32]lagRow{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		// GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
		f := strings.Fields(sc.Text())
		if len(f) < 6 || f[0] != c.r.group || f[1] != c.r.in {
			continue
		}
		p, err1 := strconv.Atoi(f[2])
		cur, err2 := strconv.ParseInt(f[3], 10, 64)
		end, err3 := strconv.ParseInt(f[4], 10, 64)
		lg, err4 := strconv.ParseInt(f[5], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
			continue // "-" while a partition has no commit or no leader
		}
		rows[int32(p)] = lagRow{cur, end, lg}
	}
	return rows, nil
}

// lagVerdict sums the samples up: how many compared, any negative lag on
// either side, the largest difference between the two on a partition's
// committed offset, end and lag, and the largest total lag veltrix
// reported. A spike is a total lag above what the tool saw at most, plus
// tolerance.
type lagVerdict struct {
	samples, compared, failed int
	negative                  []string
	maxDiff                   lagRow
	maxVeltrix, maxTool       int64
	firstErr                  error
}

func judgeLag(samples []lagSample) lagVerdict {
	var v lagVerdict
	v.samples = len(samples)
	for _, s := range samples {
		if s.err != nil {
			v.failed++
			if v.firstErr == nil {
				v.firstErr = s.err
			}
			continue
		}
		var totV, totT int64
		for p, vr := range s.veltrix {
			if vr.lag < 0 {
				v.negative = append(v.negative, fmt.Sprintf("veltrix p%d %d at %s", p, vr.lag, s.at.Format("15:04:05")))
			}
			totV += vr.lag
			tr, ok := s.tool[p]
			if !ok {
				continue
			}
			v.maxDiff.committed = max(v.maxDiff.committed, abs64(vr.committed-tr.committed))
			v.maxDiff.end = max(v.maxDiff.end, abs64(vr.end-tr.end))
			v.maxDiff.lag = max(v.maxDiff.lag, abs64(vr.lag-tr.lag))
		}
		for p, tr := range s.tool {
			if tr.lag < 0 {
				v.negative = append(v.negative, fmt.Sprintf("tool p%d %d at %s", p, tr.lag, s.at.Format("15:04:05")))
			}
			totT += tr.lag
		}
		if len(s.veltrix) > 0 && len(s.tool) > 0 {
			v.compared++
		}
		v.maxVeltrix, v.maxTool = max(v.maxVeltrix, totV), max(v.maxTool, totT)
	}
	return v
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// ok says the comparison holds with tolerance events of skew between the
// two readings: nothing negative, veltrix's peak total lag within
// tolerance of the tool's, and at least one sample compared.
func (v lagVerdict) ok(tolerance int64) bool {
	return v.compared > 0 && len(v.negative) == 0 && v.maxVeltrix <= v.maxTool+tolerance
}

func (v lagVerdict) String() string {
	return fmt.Sprintf("veltrix lag vs kafka-consumer-groups --describe: %d samples, %d compared, %d failed; negative lag: %d %v; largest difference on a partition: committed %d, log end %d, lag %d; peak total lag veltrix %d, tool %d",
		v.samples, v.compared, v.failed, len(v.negative), v.negative, v.maxDiff.committed, v.maxDiff.end, v.maxDiff.lag, v.maxVeltrix, v.maxTool)
}

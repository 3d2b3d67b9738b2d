package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/child"
	"github.com/veltrix/veltrix/internal/tooltest"
)

// quickstartStep is one command of the README's quickstart and the output
// the README shows for it.
type quickstartStep struct {
	command string
	output  []string
}

var (
	// The key lines the README shows and the commands must print. A line
	// the README shows is found with these, then, with its ports replaced,
	// awaited in the command's real output.
	brokerLine  = regexp.MustCompile(`^veltrix broker listening on 127\.0\.0\.1:9092 \(topic "events", 6 partitions\)`)
	produceLine = regexp.MustCompile(`^veltrix produce: metrics at http://127\.0\.0\.1:\d+/metrics$`)
	processLine = regexp.MustCompile(`^veltrix process: topic events, group veltrix, handler simulate, .*status page at (http://127\.0\.0\.1:8080/)$`)
	lagHeader   = regexp.MustCompile(`(?m)^GROUP\s+TOPIC\s+PARTITION\s+CURRENT-OFFSET\s+LOG-END-OFFSET\s+LAG\s+TIME-LAG\s+STATUS\s+CLIENT-ID$`)
	lagRow      = regexp.MustCompile(`(?m)^veltrix\s+events\s+([0-5])\s+(\d+|-)\s+\d+\s+(\d+)\*?\s+\S+\s+[A-Z]+\s+veltrix-\S+$`)
	// shellish marks a command this test cannot run word by word as a
	// shell would: quoting, expansion, pipes, redirection.
	shellish = regexp.MustCompile("[\"'`$|&;<>\\\\*?~]")
)

// TestQuickstart runs the README's quickstart as written: every command of
// its console blocks, with the veltrix this checkout builds, each in the
// background as the README runs each in its own terminal, and checks that
// each prints the key lines the README shows, that the lag grows, and that
// the status page the README points to answers.
//
// Only ports change, so the test never meets a broker or a server someone
// left running: the broker's default port 9092 becomes a free one — the
// broker command names no port, so it gets it through VELTRIX_BROKER_PORT,
// and the others' "127.0.0.1:9092" is replaced — and the processor's
// ":8080" becomes a free port too. produce keeps its default metrics
// address, :9464, and says which port it took instead when that one is in
// use, so its line is matched with any port.
func TestQuickstart(t *testing.T) {
	root := tooltest.Root(t)
	steps := quickstartSteps(t, filepath.Join(root, "README.md"))
	bin := veltrixBinary(t)
	brokerPort := freePort(t)
	statusPort := freePort(t)
	ports := strings.NewReplacer("127.0.0.1:9092", "127.0.0.1:"+brokerPort, ":8080", ":"+statusPort)

	// 1. The broker.
	broker := runStep(t, bin, steps[0], ports, "broker", "VELTRIX_BROKER_PORT="+brokerPort)
	awaitExact(t, broker, ports.Replace(readmeLine(t, steps[0], brokerLine)))

	// 2. The producer.
	produce := runStep(t, bin, steps[1], ports, "produce")
	readmeLine(t, steps[1], produceLine)
	await(t, produce, regexp.MustCompile(`(?m)^veltrix produce: metrics at http://127\.0\.0\.1:\d+/metrics$`), 30*time.Second)

	// 3. The processor with its slow handler; ready once it has joined the
	// group, which the lag command needs to exist.
	process := runStep(t, bin, steps[2], ports, "process")
	shown := readmeLine(t, steps[2], processLine)
	awaitExact(t, process, ports.Replace(shown))
	readmeURL := processLine.FindStringSubmatch(shown)[1]
	statusPage := ports.Replace(readmeURL)
	waitFor(t, "the processor to be ready (joined)", 60*time.Second, func() error {
		return httpOK(statusPage + "readyz")
	})

	// 4. The lag, growing: two full tables, the later one further behind.
	for _, row := range steps[3].output[1:] {
		if !lagRow.MatchString(row) {
			t.Fatalf("README's lag row %q does not match %s: update one of them", row, lagRow)
		}
	}
	if !lagHeader.MatchString(readmeLine(t, steps[3], regexp.MustCompile(`^GROUP`))) {
		t.Fatalf("README's lag header does not match %s", lagHeader)
	}
	lag := runStep(t, bin, steps[3], ports, "lag")
	waitFor(t, "two lag tables of the group, the later one with more lag", 90*time.Second, func() error {
		sums := lagTableSums(lag.Output())
		if len(sums) < 2 {
			if lag.Exited() {
				t.Fatalf("veltrix lag exited: %s", lag.Tail(20))
			}
			return fmt.Errorf("%d full tables so far", len(sums))
		}
		if first, last := sums[0], sums[len(sums)-1]; last <= first || first == 0 {
			return fmt.Errorf("total lag %d, then %d", first, last)
		}
		return nil
	})

	// 5. The status page, at the URL the README gives.
	if !strings.Contains(steps[4].command, readmeURL) {
		t.Errorf("the README's status page step does not open %s, the URL its processor prints", readmeURL)
	}
	resp, err := http.Get(statusPage)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(page), "veltrix") {
		t.Errorf("status page %s: %s, %s:\n%s", statusPage, resp.Status, resp.Header.Get("Content-Type"), tail(string(page), 2000))
	}
	for _, shot := range []string{"healthy", "lagging", "stopped"} {
		if _, err := os.Stat(filepath.Join(root, "docs", "status", shot+".png")); err != nil {
			t.Errorf("the README links a screenshot that is not there: %v", err)
		}
	}
}

// quickstartSteps reads the commands and shown output of the console
// blocks under the README's "## Quickstart" heading, and the status page
// step after them, whose "command" is its paragraph.
func quickstartSteps(t *testing.T, readme string) []quickstartStep {
	t.Helper()
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "\n## Quickstart")
	if i < 0 {
		t.Fatal("README.md has no ## Quickstart section")
	}
	text = text[i+1:]
	if j := strings.Index(text, "\n## "); j >= 0 {
		text = text[:j]
	}
	var steps []quickstartStep
	for _, block := range regexp.MustCompile("(?ms)^```console\n(.*?)^```").FindAllStringSubmatch(text, -1) {
		lines := strings.Split(strings.TrimRight(block[1], "\n"), "\n")
		cmd, ok := strings.CutPrefix(lines[0], "$ ")
		if !ok {
			t.Fatalf("a quickstart console block does not begin with \"$ \": %q", lines[0])
		}
		steps = append(steps, quickstartStep{command: cmd, output: lines[1:]})
	}
	page := regexp.MustCompile(`(?m)^\*\*5\. The status page\.\*\*.*$`).FindString(text)
	if len(steps) != 4 || page == "" {
		t.Fatalf("the README's quickstart has %d console blocks and status page step %q; want 4 commands and step 5", len(steps), page)
	}
	return append(steps, quickstartStep{command: page})
}

// runStep starts a quickstart command until the test ends, with ports
// replaced in its arguments. Its first word must be veltrix, which becomes
// this checkout's binary; extra environment is added to the clean one
// child.Env gives.
func runStep(t *testing.T, bin string, s quickstartStep, ports *strings.Replacer, name string, env ...string) *child.Process {
	t.Helper()
	if shellish.MatchString(s.command) {
		t.Fatalf("quickstart command %q needs a shell; this test runs commands word by word", s.command)
	}
	args := strings.Fields(s.command)
	if args[0] != "veltrix" {
		t.Fatalf("quickstart command %q does not run veltrix", s.command)
	}
	for i, a := range args {
		args[i] = ports.Replace(a)
	}
	cmd := exec.Command(bin, args[1:]...)
	cmd.Env = append(child.Env(), env...)
	return startCmd(t, name, cmd)
}

// readmeLine returns the line of s's shown output that re matches.
func readmeLine(t *testing.T, s quickstartStep, re *regexp.Regexp) string {
	t.Helper()
	for _, l := range s.output {
		if re.MatchString(l) {
			return l
		}
	}
	t.Fatalf("the README shows no line matching %s after %q", re, s.command)
	return ""
}

// awaitExact waits for line, whole, in p's output.
func awaitExact(t *testing.T, p *child.Process, line string) {
	t.Helper()
	await(t, p, regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(line)+`$`), 60*time.Second)
}

// lagTableSums returns the total lag of each complete table (one row per
// partition, 0 to 5) in the output of veltrix lag --watch.
func lagTableSums(out string) []int64 {
	var sums []int64
	heads := lagHeader.FindAllStringIndex(out, -1)
	for i, h := range heads {
		end := len(out)
		if i+1 < len(heads) {
			end = heads[i+1][0]
		}
		rows := lagRow.FindAllStringSubmatch(out[h[1]:end], -1)
		if len(rows) != 6 {
			continue
		}
		var sum int64
		for _, r := range rows {
			n, _ := strconv.ParseInt(r[3], 10, 64)
			sum += n
		}
		sums = append(sums, sum)
	}
	return sums
}

// httpOK returns nil when url answers 200.
func httpOK(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return nil
}

// freePort returns a loopback port free at the moment.
func freePort(t *testing.T) string {
	t.Helper()
	_, port, err := net.SplitHostPort(freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	return port
}

package e2e

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/tooltest"
)

// chromium runs headless Chromium on url with the given mode flag
// (--dump-dom, --screenshot=FILE) and returns its standard output.
func chromium(t *testing.T, bin, url string, mode string) []byte {
	t.Helper()
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--window-size=1200,900", "--hide-scrollbars", mode, url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan struct{})
	var out []byte
	var err error
	go func() {
		out, err = cmd.Output()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("chromium %s did not finish within 60s:\n%s", mode, tail(stderr.String(), 2000))
	}
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", mode, err, tail(stderr.String(), 2000))
	}
	return out
}

var (
	statusURL = regexp.MustCompile(`status page at (http://\S+/)`)
	lagCell   = regexp.MustCompile(`<tr class="row-[a-z]+" data-topic="[^"]*" data-partition="(\d+)" data-lag="(\d+)"`)
	cardValue = regexp.MustCompile(`id="rate-processed">([0-9.]+)k?/s<`)
)

// TestStatusPageInChromium opens the status page of a running veltrix demo
// in headless Chromium: the rendered DOM has the lag table with a row and
// a number per partition and the processed rate, and a screenshot of it
// is a real picture.
func TestStatusPageInChromium(t *testing.T) {
	chrome := tooltest.Need(t, "chromium")
	bin := veltrixBinary(t)
	// A handler slow enough that some lag shows, on the embedded cluster.
	demo := start(t, "demo", bin, "demo", "--partitions", "4", "--members", "2", "--rate", "2000",
		"--metrics-addr", "127.0.0.1:0", "--handler", "simulate", "--handler.simulate.record_delay", "200us",
		"--lag.interval", "500ms")
	url := await(t, demo, statusURL, 30*time.Second)
	await(t, demo, regexp.MustCompile(`(?m)^\s+(\d+s)\s+produced`), 20*time.Second)
	// The page as served, before Chromium renders it: a lag row per
	// partition (after a lag poll) and a processed rate above 0.
	waitFor(t, "lag rows and a processed rate on the status page", 30*time.Second, func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		page, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		parts := map[string]bool{}
		for _, r := range lagCell.FindAllSubmatch(page, -1) {
			parts[string(r[1])] = true
		}
		m := cardValue.FindSubmatch(page)
		if len(parts) != 4 || m == nil {
			return fmt.Errorf("lag rows for partitions %v, processed rate %q", parts, m)
		}
		if v, _ := strconv.ParseFloat(string(m[1]), 64); v <= 0 {
			return fmt.Errorf("processed rate %s", m[1])
		}
		return nil
	})

	dom := chromium(t, chrome, url, "--dump-dom")
	rows := lagCell.FindAllSubmatch(dom, -1)
	parts := map[string]bool{}
	for _, r := range rows {
		parts[string(r[1])] = true
		if _, err := strconv.ParseInt(string(r[2]), 10, 64); err != nil {
			t.Errorf("partition %s: lag %q is not a number", r[1], r[2])
		}
	}
	if len(parts) != 4 {
		t.Errorf("lag table has rows for partitions %v, want 0-3; DOM:\n%s", parts, tail(string(dom), 4000))
	}
	// demo produces: its page has the Produced tile the others leave out.
	if !bytes.Contains(dom, []byte(`id="produced"`)) || !bytes.Contains(dom, []byte(`id="tile-lag"`)) {
		t.Errorf("no Produced or lag tile in the demo's page:\n%s", tail(string(dom), 4000))
	}
	if m := cardValue.FindSubmatch(dom); m == nil {
		t.Errorf("no processed rate in the DOM:\n%s", tail(string(dom), 4000))
	} else if v, _ := strconv.ParseFloat(string(m[1]), 64); v <= 0 {
		t.Errorf("processed rate %s, want above 0", m[1])
	}

	shot := filepath.Join(t.TempDir(), "status.png")
	chromium(t, chrome, url, "--screenshot="+shot)
	raw, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 900 {
		t.Errorf("screenshot is %dx%d, want 1200x900", b.Dx(), b.Dy())
	}
	if n := colours(img); n < 50 {
		t.Errorf("screenshot has %d distinct colours: a blank or broken page", n)
	}
	if dir := os.Getenv("E2E_SCREENSHOT_DIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "status.png"), raw, 0o644)
	}
	t.Logf("status page: %d partitions in the lag table, screenshot %d bytes, %d colours", len(parts), len(raw), colours(img))
}

// colours counts the distinct colours of img, sampling every fourth pixel.
func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	return len(seen)
}

package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// scraper reads counters from a process's Prometheus text endpoint, as a
// monitoring system would, only more often.
type scraper struct {
	url    string
	client *http.Client
}

func newScraper(url string) *scraper {
	// Uncompressed: gzip would add the subject's CPU to every scrape.
	tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 1}
	return &scraper{url: url, client: &http.Client{Timeout: 5 * time.Second, Transport: tr}}
}

// sums scrapes once and returns, for each name asked for, the sum of its
// series whose topic label is topic (series without a topic label count
// too).
func (s *scraper) sums(ctx context.Context, topic string, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scraping %s: %w", s.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scraping %s: %s", s.url, resp.Status)
	}
	return sumSeries(resp.Body, topic, names...)
}

// sumSeries adds up the samples of the named metrics in Prometheus text
// format, keeping series whose topic label, if any, is topic.
func sumSeries(r io.Reader, topic string, names ...string) (map[string]float64, error) {
	out := make(map[string]float64, len(names))
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
		out[n] = 0
	}
	topicLabel := `topic="` + topic + `"`
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if !want[name] {
			continue
		}
		if strings.HasPrefix(rest, "{") {
			j := strings.LastIndexByte(rest, '}')
			if j < 0 {
				continue
			}
			labels := rest[1:j]
			if strings.Contains(labels, `topic="`) && !strings.Contains(labels, topicLabel) {
				continue
			}
			rest = rest[j+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("parsing %q: %w", line, err)
		}
		out[name] += v
	}
	return out, sc.Err()
}

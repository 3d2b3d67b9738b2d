package metrics

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// skipRegisterer registers what a library hands it except the collectors
// that describe a metric of one of names, which it accepts and drops: the
// caller counts those series itself. It is how clientHooks replaces some of
// kprom's counters without a duplicate registration.
type skipRegisterer struct {
	prometheus.Registerer
	names map[string]bool

	mu      sync.Mutex
	skipped map[prometheus.Collector]bool
}

// Register registers c unless it describes a skipped name.
func (r *skipRegisterer) Register(c prometheus.Collector) error {
	if !r.skips(c) {
		return r.Registerer.Register(c)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.skipped == nil {
		r.skipped = map[prometheus.Collector]bool{}
	}
	r.skipped[c] = true
	return nil
}

// MustRegister registers each collector, panicking on the first error as
// prometheus.Registerer's contract asks.
func (r *skipRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// Unregister unregisters c; a skipped collector was never registered.
func (r *skipRegisterer) Unregister(c prometheus.Collector) bool {
	r.mu.Lock()
	skipped := r.skipped[c]
	delete(r.skipped, c)
	r.mu.Unlock()
	if skipped {
		return false
	}
	return r.Registerer.Unregister(c)
}

func (r *skipRegisterer) skips(c prometheus.Collector) bool {
	ch := make(chan *prometheus.Desc, 16)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	skip := false
	for d := range ch {
		skip = skip || r.names[descName(d)]
	}
	return skip
}

// descName is a descriptor's fully-qualified metric name. client_golang
// exports it only inside Desc.String ("Desc{fqName: \"name\", ..."); the
// tests pin that form.
func descName(d *prometheus.Desc) string {
	s := d.String()
	const key = `fqName: "`
	i := strings.Index(s, key)
	if i < 0 {
		return ""
	}
	s = s[i+len(key):]
	if j := strings.IndexByte(s, '"'); j >= 0 {
		return s[:j]
	}
	return ""
}

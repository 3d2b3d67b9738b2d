package offsets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/veltrix/veltrix/pkg/metrics"
)

// resetsName is the counter's full name as the text format spells it.
const resetsName = metrics.Namespace + "_offset_resets_total"

// LoadTextfile adds the veltrix_offset_resets_total counts already in the
// node_exporter textfile at path to m, so that writing m back with
// WriteTextfile keeps the counter monotonic across runs of a command that
// lives for one reset. A missing file counts nothing.
func LoadTextfile(path string, m *metrics.Offsets) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading metrics file: %w", err)
	}
	defer func() { _ = f.Close() }()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(f)
	if err != nil {
		return fmt.Errorf("reading metrics file %s: %w", path, err)
	}
	fam, ok := families[resetsName]
	if !ok {
		return nil
	}
	for _, s := range fam.GetMetric() {
		labels := prometheus.Labels{}
		for _, l := range s.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		c, err := m.Resets.GetMetricWith(labels)
		if err != nil {
			return fmt.Errorf("reading metrics file %s: %s with labels %v: %w", path, resetsName, labels, err)
		}
		c.Add(s.GetCounter().GetValue())
	}
	return nil
}

// WriteTextfile writes what g gathers to path for node_exporter's textfile
// collector, atomically (a scrape never sees half a file).
func WriteTextfile(path string, g prometheus.Gatherer) error {
	if err := prometheus.WriteToTextfile(path, g); err != nil {
		return fmt.Errorf("writing metrics file: %w", err)
	}
	return nil
}

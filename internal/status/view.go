package status

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// View is what the page shows, read from one gather and, for rates and
// latency, the difference to an earlier one.
type View struct {
	Title   string
	At      time.Time
	Uptime  time.Duration
	Ready   string  // "ready", "not ready", or "" when the process has no readiness
	Window  float64 // seconds the rates and latencies cover
	SinceUp bool    // the window is the whole uptime (no earlier sample yet)

	// Summary is the top tiles: the worst group's lag, time lag, input and
	// processed rates with their trends and its last commit; nil when no
	// lag monitor runs in this process or it has not polled yet.
	Summary *Summary
	// Processor says a processor runs in this process (process, demo), so
	// its tiles show; the lag exporter has none.
	Processor bool
	// HasProduced says this process has produced records, so the Produced
	// tile shows.
	HasProduced bool

	Produced, Processed, Failed, DeadLettered, Retries float64 // per second
	E2EP50, E2EP99, HandlerP99                         float64 // seconds; NaN when nothing was handled
	BatchMean                                          float64 // records per batch; NaN when none
	Assigned, Paused, Halted, BufferedRecords          float64
	BufferedBytes, RSS, Heap                           float64
	Rebalances                                         float64 // assignment changes since start

	Groups   []Group    // from the lag monitor, when it runs in this process
	FetchLag []FetchLag // the processor's own view, when there is no lag monitor
}

// Group is one consumer group's lag, from the lag monitor's series.
type Group struct {
	Cluster, Name string
	Status        string
	Members       int
	SumLag        int64
	MaxLag        int64 // the largest partition lag, which the page's bars scale to
	MaxLagSeconds float64
	Partitions    []Partition // worst first: status, then offset lag, then time lag
	// Paused and Halted count the group's partitions paused by
	// backpressure and stopped by on_failure=halt in this process (the
	// processor exports counts per group, not which partitions).
	Paused, Halted float64
	HasProcessor   bool // this process runs a member of the group: Paused and Halted are known
}

// Summary is what the top tiles show for one group.
type Summary struct {
	Group, Cluster string
	Groups         int // groups on the page; the summary shows the worst
	Status         string
	Members        int
	Lag            int64
	LagSeconds     float64 // NaN when unknown
	// Input is the records per second appended to the group's partitions,
	// from the log end offsets of the lag polls; NaN before two polls.
	Input float64
	// Processed is the records per second the handler finished (a
	// processor in this process) or, without one, the growth of the
	// group's committed offsets; ProcessedBy says which ("processed",
	// "committed").
	Processed   float64
	ProcessedBy string
	// LastCommit is when the group last committed (zero: none seen since
	// Since, when the page started watching).
	LastCommit, Since time.Time
	CommitAge         time.Duration
	// Span is how far back the sparklines reach. Each is an SVG polyline's
	// points; "" until there are two points.
	Span                       time.Duration
	LagLine, LagArea, TimeLine string
	InputLine, ProcessedLine   string
}

// Partition is one partition of a group.
type Partition struct {
	Topic            string
	Partition        int
	Lag              int64
	LagSeconds       float64 // NaN when unknown
	Committed, End   int64   // -1 when unknown
	Status           string
	HasCommit, Known bool
	// Halted says a processor in this process stopped the partition with
	// on_failure=halt at HaltedAt, the record that failed every attempt
	// (veltrix_halted_partition_offset); HaltErr is the handler's last
	// error for it, when the page has the processor's Halted.
	Halted   bool
	HaltedAt int64
	HaltErr  string
}

// FetchLag is veltrix_partition_lag_records: high watermark minus the
// processor's fetch position.
type FetchLag struct {
	Group, Topic string
	Partition    int
	Lag          int64
}

// statusWords are the lag monitor's status codes (pkg/lag).
var statusWords = []string{"OK", "WARN", "REWIND", "STALL", "STOP", "ERR"}

// severity is a status word's rank, for sorting worst first.
func severity(word string) int {
	if i := slices.Index(statusWords, word); i >= 0 {
		return i
	}
	return len(statusWords) // unknown codes sort first: someone should look
}

func statusWord(v float64) string {
	if i := int(v); i >= 0 && i < len(statusWords) && float64(i) == v {
		return statusWords[i]
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// sample is one gather, indexed for differences.
type sample struct {
	at       time.Time
	families map[string]*dto.MetricFamily
}

func newSample(at time.Time, mfs []*dto.MetricFamily) *sample {
	s := &sample{at: at, families: make(map[string]*dto.MetricFamily, len(mfs))}
	for _, mf := range mfs {
		s.families[mf.GetName()] = mf
	}
	return s
}

func label(m *dto.Metric, name string) string {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name {
			return lp.GetValue()
		}
	}
	return ""
}

// value is a counter's, gauge's or untyped metric's value.
func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// sum adds the values of every series of name whose labels match where.
func (s *sample) sum(name string, where map[string]string) float64 {
	if s == nil {
		return 0
	}
	var total float64
	mf := s.families[name]
	if mf == nil {
		return 0
	}
	for _, m := range mf.GetMetric() {
		if matches(m, where) {
			total += value(m)
		}
	}
	return total
}

func matches(m *dto.Metric, where map[string]string) bool {
	for k, v := range where {
		if label(m, k) != v {
			return false
		}
	}
	return true
}

// has reports whether the sample has any series of name.
func (s *sample) has(name string) bool { return s != nil && len(s.families[name].GetMetric()) > 0 }

// hasWhere reports whether the sample has a series of name whose labels
// match where.
func (s *sample) hasWhere(name string, where map[string]string) bool {
	if s == nil || s.families[name] == nil {
		return false
	}
	return slices.ContainsFunc(s.families[name].GetMetric(), func(m *dto.Metric) bool { return matches(m, where) })
}

// buckets adds up the cumulative buckets (upper bound → count) and the
// count of every series of the histogram name.
func (s *sample) buckets(name string) (map[float64]float64, float64, float64) {
	out := map[float64]float64{}
	var count, total float64
	if s == nil || s.families[name] == nil {
		return out, 0, 0
	}
	for _, m := range s.families[name].GetMetric() {
		h := m.GetHistogram()
		if h == nil {
			continue
		}
		for _, b := range h.GetBucket() {
			out[b.GetUpperBound()] += float64(b.GetCumulativeCount())
		}
		count += float64(h.GetSampleCount())
		total += h.GetSampleSum()
	}
	return out, count, total
}

// quantile is Prometheus's histogram_quantile over the difference of a
// histogram between two samples (prev may be nil: since start): linear
// interpolation inside the bucket the rank falls in. NaN when empty.
func quantile(q float64, cur, prev *sample, name string) float64 {
	cb, cc, _ := cur.buckets(name)
	pb, pc, _ := prev.buckets(name)
	n := cc - pc
	if n <= 0 {
		return math.NaN()
	}
	bounds := make([]float64, 0, len(cb))
	for b := range cb {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	rank := q * n
	lower, below := 0.0, 0.0
	for _, ub := range bounds {
		c := cb[ub] - pb[ub]
		if c >= rank {
			if math.IsInf(ub, 1) {
				return lower
			}
			if c == below {
				return ub
			}
			return lower + (ub-lower)*(rank-below)/(c-below)
		}
		lower, below = ub, c
	}
	return lower // the rank is in the implicit +Inf bucket
}

// mean is sum/count of a histogram between two samples; NaN when empty.
func mean(cur, prev *sample, name string) float64 {
	_, cc, cs := cur.buckets(name)
	_, pc, ps := prev.buckets(name)
	if cc-pc <= 0 {
		return math.NaN()
	}
	return (cs - ps) / (cc - pc)
}

// build reads cur (and prev, for rates) into a View. With prev nil, rates
// are averages since the process started.
func build(title string, cur, prev *sample) View {
	v := View{Title: title, At: cur.at}
	if start := cur.sum("process_start_time_seconds", nil); start > 0 {
		v.Uptime = cur.at.Sub(time.Unix(0, int64(start*1e9))).Round(time.Second)
	}
	v.SinceUp = prev == nil
	if prev != nil {
		v.Window = cur.at.Sub(prev.at).Seconds()
	} else {
		v.Window = max(v.Uptime.Seconds(), 1)
	}
	rate := func(name string, where map[string]string) float64 {
		return max(cur.sum(name, where)-prev.sum(name, where), 0) / v.Window
	}
	if cur.has("veltrix_ready") {
		v.Ready = "not ready"
		if cur.sum("veltrix_ready", nil) > 0 {
			v.Ready = "ready"
		}
	}
	// The processor's counters exist from its start (at 0 per topic); the
	// lag exporter registers the same families but never creates a series.
	v.Processor = cur.has("veltrix_processed_records_total") || cur.has("veltrix_partitions_assigned")
	v.HasProduced = cur.sum("veltrix_produced_records_total", nil) > 0
	v.Produced = rate("veltrix_produced_records_total", nil)
	v.Processed = rate("veltrix_processed_records_total", nil)
	v.Failed = rate("veltrix_failed_records_total", nil)
	v.DeadLettered = rate("veltrix_failed_records_total", map[string]string{"outcome": "dlq"})
	v.Retries = rate("veltrix_handler_retries_total", nil)
	v.E2EP50 = quantile(0.5, cur, prev, "veltrix_end_to_end_latency_seconds")
	v.E2EP99 = quantile(0.99, cur, prev, "veltrix_end_to_end_latency_seconds")
	v.HandlerP99 = quantile(0.99, cur, prev, "veltrix_handler_duration_seconds")
	v.BatchMean = mean(cur, prev, "veltrix_batch_records")
	v.Assigned = cur.sum("veltrix_partitions_assigned", nil)
	v.Paused = cur.sum("veltrix_paused_partitions", nil)
	v.Halted = cur.sum("veltrix_halted_partitions", nil)
	v.BufferedRecords = cur.sum("veltrix_buffered_records", nil)
	v.BufferedBytes = cur.sum("veltrix_buffered_bytes", nil)
	v.Rebalances = cur.sum("veltrix_rebalances_total", nil)
	v.RSS = cur.sum("process_resident_memory_bytes", nil)
	v.Heap = cur.sum("go_memstats_heap_inuse_bytes", nil)
	v.Groups = groups(cur)
	for i := range v.Groups {
		g := &v.Groups[i]
		where := map[string]string{"group": g.Name}
		g.HasProcessor = cur.hasWhere("veltrix_partitions_assigned", where) || cur.hasWhere("veltrix_paused_partitions", where)
		g.Paused = cur.sum("veltrix_paused_partitions", where)
		g.Halted = cur.sum("veltrix_halted_partitions", where)
		markHalted(cur, g)
	}
	if len(v.Groups) == 0 && cur.families["veltrix_partition_lag_records"] != nil {
		for _, m := range cur.families["veltrix_partition_lag_records"].GetMetric() {
			p, _ := strconv.Atoi(label(m, "partition"))
			v.FetchLag = append(v.FetchLag, FetchLag{Group: label(m, "group"), Topic: label(m, "topic"), Partition: p, Lag: int64(value(m))})
		}
		slices.SortFunc(v.FetchLag, func(a, b FetchLag) int {
			return cmp.Or(cmp.Compare(b.Lag, a.Lag), cmp.Compare(a.Group, b.Group), cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
		})
	}
	return v
}

// groups reads the lag monitor's series into groups of partitions.
func groups(s *sample) []Group {
	type gk struct{ cluster, group string }
	type pk struct {
		gk
		topic     string
		partition int
	}
	gs := map[gk]*Group{}
	ps := map[pk]*Partition{}
	group := func(m *dto.Metric) *Group {
		k := gk{label(m, "cluster"), label(m, "group")}
		if gs[k] == nil {
			gs[k] = &Group{Cluster: k.cluster, Name: k.group, Status: "OK", MaxLagSeconds: math.NaN()}
		}
		return gs[k]
	}
	part := func(m *dto.Metric) *Partition {
		n, _ := strconv.Atoi(label(m, "partition"))
		k := pk{gk{label(m, "cluster"), label(m, "group")}, label(m, "topic"), n}
		if ps[k] == nil {
			group(m)
			ps[k] = &Partition{Topic: k.topic, Partition: n, LagSeconds: math.NaN(), Committed: -1, End: -1, Status: "OK"}
		}
		return ps[k]
	}
	each := func(name string, f func(*dto.Metric, float64)) {
		if mf := s.families[name]; mf != nil {
			for _, m := range mf.GetMetric() {
				f(m, value(m))
			}
		}
	}
	each("kafka_consumergroup_group_status", func(m *dto.Metric, v float64) { group(m).Status = statusWord(v) })
	each("kafka_consumergroup_members", func(m *dto.Metric, v float64) { group(m).Members = int(v) })
	each("kafka_consumergroup_group_sum_lag", func(m *dto.Metric, v float64) { group(m).SumLag = int64(v) })
	each("kafka_consumergroup_group_max_lag_seconds", func(m *dto.Metric, v float64) { group(m).MaxLagSeconds = v })
	each("kafka_consumergroup_group_lag", func(m *dto.Metric, v float64) { p := part(m); p.Lag, p.Known = int64(v), true })
	each("kafka_consumergroup_group_lag_seconds", func(m *dto.Metric, v float64) { part(m).LagSeconds = v })
	each("kafka_consumergroup_current_offset", func(m *dto.Metric, v float64) { p := part(m); p.Committed, p.HasCommit = int64(v), true })
	each("kafka_consumergroup_partition_status", func(m *dto.Metric, v float64) { part(m).Status = statusWord(v) })
	// Log end offsets are per topic and partition, shared by the groups.
	ends := map[string]int64{}
	each("kafka_partition_latest_offset", func(m *dto.Metric, v float64) {
		ends[label(m, "cluster")+"\x00"+label(m, "topic")+"\x00"+label(m, "partition")] = int64(v)
	})
	for k, p := range ps {
		if e, ok := ends[k.cluster+"\x00"+k.topic+"\x00"+strconv.Itoa(k.partition)]; ok {
			p.End = e
		}
		g := gs[k.gk]
		g.Partitions = append(g.Partitions, *p)
		g.MaxLag = max(g.MaxLag, p.Lag)
	}
	out := make([]Group, 0, len(gs))
	for _, g := range gs {
		slices.SortFunc(g.Partitions, worstFirst)
		out = append(out, *g)
	}
	slices.SortFunc(out, func(a, b Group) int { return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Name, b.Name)) })
	return out
}

// worstFirst orders partitions by status severity, then offset lag, then
// time lag, all descending; then by topic and partition.
func worstFirst(a, b Partition) int {
	return cmp.Or(compareBool(b.Halted, a.Halted), cmp.Compare(severity(b.Status), severity(a.Status)), cmp.Compare(b.Lag, a.Lag),
		cmp.Compare(nanLow(b.LagSeconds), nanLow(a.LagSeconds)), cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// markHalted marks g's partitions that a processor in this process halted,
// from veltrix_halted_partition_offset, and puts them first.
func markHalted(s *sample, g *Group) {
	marked := false
	for _, m := range s.families["veltrix_halted_partition_offset"].GetMetric() {
		if label(m, "group") != g.Name {
			continue
		}
		part, err := strconv.Atoi(label(m, "partition"))
		if err != nil {
			continue
		}
		for i := range g.Partitions {
			p := &g.Partitions[i]
			if p.Topic == label(m, "topic") && p.Partition == part {
				p.Halted, p.HaltedAt, marked = true, int64(value(m)), true
			}
		}
	}
	if marked {
		slices.SortFunc(g.Partitions, worstFirst)
	}
}

// nanLow maps an unknown (NaN) time lag below every known one.
func nanLow(v float64) float64 {
	if math.IsNaN(v) {
		return math.Inf(-1)
	}
	return v
}

// worst returns the index of the group the top tiles show: the most
// severe status, then the largest lag; -1 with no groups.
func worst(gs []Group) int {
	w := -1
	for i, g := range gs {
		if w < 0 || cmp.Or(cmp.Compare(severity(g.Status), severity(gs[w].Status)), cmp.Compare(g.SumLag, gs[w].SumLag)) > 0 {
			w = i
		}
	}
	return w
}

// pointOf is g's trend point in s.
func pointOf(s *sample, g Group) point {
	p := point{at: s.at, pollAt: s.at, lag: float64(g.SumLag), lagSeconds: g.MaxLagSeconds,
		processed: math.NaN(), commits: math.NaN()}
	if ts := s.sum("veltrix_lag_poll_timestamp_seconds", map[string]string{"cluster": g.Cluster}); ts > 0 {
		p.pollAt = time.Unix(0, int64(ts*1e9))
	}
	topics := map[string]bool{}
	for _, part := range g.Partitions {
		topics[part.Topic] = true
		if part.End >= 0 && part.Known {
			// The group's position: the committed offset, or the reset
			// position where nothing is committed. Lag counts from it, so
			// the position moves exactly when a commit moves it, and a
			// partition's first commit is no jump.
			p.end += float64(part.End)
			p.committed += float64(part.End - part.Lag)
		}
	}
	where := map[string]string{"group": g.Name}
	if s.hasWhere("veltrix_commits_total", where) {
		p.commits = s.sum("veltrix_commits_total", where)
	}
	if s.has("veltrix_processed_records_total") {
		p.processed = 0
		for t := range topics {
			p.processed += s.sum("veltrix_processed_records_total", map[string]string{"topic": t})
		}
	}
	return p
}

// summarize builds the top tiles of g from its trend t (oldest point
// first, the newest is this gather's), seen by the page since since.
func summarize(v View, g Group, groups int, t *trend, since time.Time) *Summary {
	pts := t.points()
	s := &Summary{Group: g.Name, Cluster: g.Cluster, Groups: groups, Status: g.Status, Members: g.Members,
		Lag: g.SumLag, LagSeconds: g.MaxLagSeconds, Since: since, LastCommit: t.lastCommit}
	if !s.LastCommit.IsZero() {
		s.CommitAge = max(v.At.Sub(s.LastCommit), 0).Round(time.Second)
	}
	s.Input = rate(pts, func(p point) float64 { return p.end })
	input := pollRates(pts, func(p point) float64 { return p.end })
	var processed series
	if v.Processor {
		s.Processed, s.ProcessedBy = v.Processed, "processed"
		processed = gatherRates(pts, func(p point) float64 { return p.processed })
	} else {
		s.Processed, s.ProcessedBy = rate(pts, func(p point) float64 { return p.committed }), "committed"
		processed = pollRates(pts, func(p point) float64 { return p.committed })
	}
	if len(pts) == 0 {
		return s
	}
	from, to := pts[0].at, v.At
	s.Span = to.Sub(from).Round(time.Second)
	var lag, secs series
	for _, p := range pts {
		lag.add(p.at, p.lag)
		secs.add(p.at, p.lagSeconds)
	}
	s.LagLine = sparkline(lag, from, to, top(lag))
	s.LagArea = area(s.LagLine)
	s.TimeLine = sparkline(secs, from, to, top(secs))
	rt := top(input, processed)
	s.InputLine = sparkline(input, from, to, rt)
	s.ProcessedLine = sparkline(processed, from, to, rt)
	return s
}

package bench

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// hotPaths runs the engine's Go benchmarks (pkg/processor/bench_test.go)
// with -benchmem and keeps their raw output for benchstat.
func hotPaths(ctx context.Context, o *Options, res *Results) error {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", ".", "-benchmem",
		"-count", strconv.Itoa(max(o.Scale.HotPathCount, 1)), "./pkg/processor")
	cmd.Dir = o.Root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go test -bench: %w: %s", err, lastLines(out.String(), 5))
	}
	res.HotPathRaw = out.String()
	res.HotPaths = parseBench(out.String())
	if len(res.HotPaths) == 0 {
		return fmt.Errorf("no benchmark results in go test's output")
	}
	for _, h := range res.HotPaths {
		o.logf("hot path %-30s %10.1f ns/op %6.0f B/op %4.0f allocs/op", h.Name, h.NsOp, h.BytesOp, h.AllocsOp)
	}
	return nil
}

// parseBench reads `BenchmarkX-2  N  v ns/op  v B/op  v allocs/op` lines
// and returns each benchmark's medians, in order of first appearance.
func parseBench(out string) []HotPath {
	type vals struct{ ns, b, a []float64 }
	byName := map[string]*vals{}
	var order []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndex(name, "-"); i > 0 {
			name = name[:i] // drop the GOMAXPROCS suffix
		}
		v, ok := byName[name]
		if !ok {
			v = &vals{}
			byName[name] = v
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			x, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				v.ns = append(v.ns, x)
			case "B/op":
				v.b = append(v.b, x)
			case "allocs/op":
				v.a = append(v.a, x)
			}
		}
	}
	out2 := make([]HotPath, 0, len(order))
	for _, n := range order {
		v := byName[n]
		out2 = append(out2, HotPath{Name: n, NsOp: median(v.ns), BytesOp: median(v.b), AllocsOp: median(v.a)})
	}
	return out2
}

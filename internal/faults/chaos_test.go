package faults

import (
	"flag"
	"testing"
	"time"

	"github.com/veltrix/veltrix/internal/child"
	"github.com/veltrix/veltrix/internal/kafkatest"
)

var (
	chaosFor  = flag.Duration("faults.chaos", 0, "run TestChaos for this long (scripts/chaos.sh); 0 skips it")
	chaosRate = flag.Float64("faults.chaos_rate", 10000, "events per second produced during TestChaos")
	chaosSeed = flag.Uint64("faults.chaos_seed", 0, "TestChaos's seed (0: from the clock)")
)

// TestChaos runs RunChaos on the three-node cluster (scripts/chaos.sh);
// without -faults.chaos it skips: it is not part of the suite.
func TestChaos(t *testing.T) {
	if *chaosFor == 0 {
		t.Skip("not asked for: scripts/chaos.sh (or -faults.chaos 10m) runs it")
	}
	nodes := kafkatest.RealCluster(t)
	bin, err := child.Veltrix()
	if err != nil {
		t.Fatal(err)
	}
	seed := *chaosSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	env := &Env{Bin: bin, Brokers: nodes.Brokers, Cluster: clusterName, Full: true, Nodes: nodes, Log: t.Logf}
	res, err := RunChaos(env, Chaos{Duration: *chaosFor, Rate: *chaosRate, Seed: seed})
	if err != nil {
		t.Fatalf("chaos (seed %d): %v (partial result %+v)", seed, err, res)
	}
	t.Logf("\n%s\n%s", "| scenario | cluster | produced | delivered | lost | duplicated | out of order | dead-lettered | poison | max lag | recovery s | peak RSS MiB | seconds | pass | notes |", resultRow(res))
	if !res.Pass {
		t.Errorf("chaos (seed %d) broke a guarantee: %+v", seed, res)
	}
}

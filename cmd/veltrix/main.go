// Command veltrix moves events through Kafka: it produces them, processes
// them in a consumer group with explicit, validated settings, and exposes
// what happens as Prometheus metrics. This package only wires flags,
// signals and exit codes to the packages under pkg/.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/pkg/kafka"
)

// Exit codes.
const (
	exitOK     = 0
	exitError  = 1 // the run failed: unreachable cluster, missing topic, produce errors
	exitConfig = 2 // bad configuration or command-line usage; nothing was started
	exitDoctor = 3 // config doctor found an error-severity finding
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRoot()
	args = joinSwitches(root, args)
	err := checkCommand(root, args)
	if err == nil {
		root.SetArgs(args)
		err = root.Execute()
	}
	if err == nil {
		return exitOK
	}
	if errors.Is(err, context.Canceled) {
		// Only the signal context is ever cancelled: a SIGTERM that arrived
		// during start-up is a clean stop, not a failure.
		fmt.Fprintln(os.Stderr, "veltrix: stopped during start-up")
		return exitOK
	}
	if errors.Is(err, kafka.ErrNoBrokers) {
		// The library names its field; the CLI names the flag.
		err = fmt.Errorf("%w: set --brokers (kafka.brokers), e.g. 127.0.0.1:9092 for `veltrix broker`", err)
	}
	fmt.Fprintln(os.Stderr, "veltrix:", err)
	var ce *config.Error
	var ue usageError
	// No brokers is a configuration mistake found only when a command
	// that needs them connects.
	if errors.As(err, &ce) || errors.As(err, &ue) || errors.Is(err, kafka.ErrNoBrokers) {
		return exitConfig
	}
	if errors.As(err, new(findingsError)) {
		return exitDoctor
	}
	return exitError
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "veltrix",
		Short: "A Kafka event pipeline whose configuration is explicit, validated and observable",
		Long: `veltrix produces events to Kafka, processes them in a consumer group with
explicit batch, commit, backpressure and failure settings, and exports what
happens as Prometheus metrics.

Every setting has a default, a type, a unit and a range, and comes from, in
rising order of precedence: built-in defaults, a YAML file (--config), the
environment (VELTRIX_<KEY> with dots as underscores, e.g.
VELTRIX_PROCESSOR_BATCH_MAX_RECORDS), and flags (--<key>, e.g.
--processor.batch.max_records, or an everyday short name such as --brokers).
A bad value stops veltrix before it connects anywhere, with exit code 2.

Start with 'veltrix demo': it runs the whole pipeline on an embedded cluster.`,
		Example: `  veltrix demo
  veltrix broker &
  veltrix produce --brokers 127.0.0.1:9092 --rate 5000 --duration 1m
  veltrix process --brokers 127.0.0.1:9092 --handler simulate`,
		Version:       readBuildInfo().Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringP("config", "c", "", "YAML configuration file (see configs/reference.yaml for every key)")
	root.SetVersionTemplate("{{printf \"%s\" .Annotations.buildinfo}}")
	root.Annotations = map[string]string{"buildinfo": readBuildInfo().String()}
	root.AddCommand(newDemo(), newBroker(), newProduce(), newProcess(), newConfigCmd(), newVerify(), newLag(), newPlan(), newOffsets(), newDLQ(), newScale())
	root.AddCommand(newVersion())
	fitCLI(root)
	return root
}

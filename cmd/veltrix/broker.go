package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/veltrix/veltrix/internal/config"
	"github.com/veltrix/veltrix/pkg/embedded"
)

func newBroker() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run the embedded Kafka-protocol cluster as a local broker for development",
		Long: `broker runs franz-go's in-process Kafka-protocol cluster (kfake) on
127.0.0.1 so any Kafka client — veltrix, kcat, the Java tools — can use it
while you develop. It seeds the topic given by --topic with --partitions
partitions and keeps data in memory unless --broker.data_dir is set.

It is not Apache Kafka: no replication, no quotas. Use a real cluster for
reliability and performance work (scripts/kafka.sh starts one locally).`,
		Example: `  veltrix broker
  veltrix broker --port 19092 --topic orders --partitions 12
  kcat -b 127.0.0.1:9092 -L`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			c := l.Config
			cl, err := embedded.Start(embedded.Options{Port: c.Broker.Port, Topics: []string{c.Topic.Name},
				Partitions: c.Topic.Partitions, DataDir: c.Broker.DataDir})
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, stop := signalContext(cmd.ErrOrStderr())
			defer stop()
			fmt.Fprintf(cmd.OutOrStdout(), "veltrix broker listening on %s (topic %q, %d partitions); Ctrl-C stops it\n",
				strings.Join(cl.Addrs(), ","), c.Topic.Name, c.Topic.Partitions)
			<-ctx.Done()
			return nil
		},
	}
	config.AddFlags(cmd.Flags(), []string{"broker.", "topic.name", "topic.partitions", "log."})
	return cmd
}

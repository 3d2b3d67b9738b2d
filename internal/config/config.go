// Package config is veltrix's one configuration: a schema that declares
// every setting once, layered loading (defaults < YAML file < VELTRIX_*
// environment < flags) with koanf, validation that reports every problem with
// its key, value, source and rule, and the typed Config the other packages
// take their sections from.
package config

import (
	"time"

	"github.com/veltrix/veltrix/internal/generate"
	"github.com/veltrix/veltrix/pkg/autoscale"
	"github.com/veltrix/veltrix/pkg/handler"
	"github.com/veltrix/veltrix/pkg/kafka"
	"github.com/veltrix/veltrix/pkg/lag"
	"github.com/veltrix/veltrix/pkg/processor"
	"github.com/veltrix/veltrix/pkg/producer"
)

// Config is the whole typed configuration. It only composes the sections
// that each package owns.
type Config struct {
	Kafka           kafka.Config      `koanf:"kafka"`
	Topic           kafka.TopicConfig `koanf:"topic"`
	ProducerSection `koanf:"producer"`
	Processor       processor.Config `koanf:"processor"`
	Handler         handler.Config   `koanf:"handler"`
	Metrics         MetricsConfig    `koanf:"metrics"`
	Log             LogConfig        `koanf:"log"`
	Demo            DemoConfig       `koanf:"demo"`
	Broker          BrokerConfig     `koanf:"broker"`
	Deploy          DeployConfig     `koanf:"deploy"`
	Lag             lag.Config       `koanf:"lag"`
	Autoscale       autoscale.Config `koanf:"autoscale"`
}

// ProducerSection is the producer.* keys, which two packages share: the
// client's settings (producer.acks, ...) and the generator's
// (producer.rate, ...). Both structs are squashed into the one section, so
// configuration files did not change when the generator moved out of
// pkg/producer; embedded in Config, its fields read as c.Producer and
// c.Generate.
type ProducerSection struct {
	Producer producer.Config `koanf:",squash"`
	Generate generate.Config `koanf:",squash"`
}

// MetricsConfig is the HTTP endpoint for /metrics, /healthz and /readyz.
type MetricsConfig struct {
	// Addr is host:port; "" disables the server.
	Addr string `koanf:"addr"`
	// WebConfigFile is a Prometheus exporter-toolkit web config file (TLS,
	// basic auth) for this server and lag.serve's; "" serves plain HTTP.
	WebConfigFile string `koanf:"web_config_file"`
}

// LogConfig shapes the logs written to stderr.
type LogConfig struct {
	Level  string `koanf:"level"`
	Format string `koanf:"format"`
}

// DemoConfig tunes veltrix demo.
type DemoConfig struct {
	Duration time.Duration `koanf:"duration"`
	Members  int           `koanf:"members"`
}

// BrokerConfig tunes veltrix broker, the standalone embedded cluster.
type BrokerConfig struct {
	Port    int    `koanf:"port"`
	DataDir string `koanf:"data_dir"`
}

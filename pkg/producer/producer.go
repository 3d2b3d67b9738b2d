// Package producer holds the producer client's settings and the kgo
// options that apply them, for every veltrix client that writes: the
// forward handler's, the dead-letter writer's, and the CLI's generator
// (internal/generate).
package producer

import (
	"github.com/twmb/franz-go/pkg/kgo"
)

// ClientOptions returns the kgo options that apply cfg's producer settings.
// cfg.DeliveryTimeout becomes franz-go's RecordDeliveryTimeout, which counts
// from each record's timestamp: right for records stamped as they are
// produced. A client writing records that keep an older timestamp takes
// ForwardClientOptions.
func ClientOptions(cfg Config) []kgo.Opt {
	opts := []kgo.Opt{
		kgo.ProducerLinger(cfg.Linger),
		kgo.ProducerBatchMaxBytes(int32(cfg.BatchMaxBytes)),
		kgo.MaxBufferedRecords(cfg.MaxBufferedRecords),
		kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout),
		kgo.ProducerBatchCompression(codec(cfg.Compression)),
	}
	switch cfg.Acks {
	case "leader":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	case "none":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if !cfg.Idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	return opts
}

// ForwardClientOptions returns the options of a client that writes records
// keeping the timestamp of the records they copy, as the forward handler
// does: ClientOptions without the record delivery timeout. franz-go counts
// that timeout from the record's timestamp, not from the produce call, so
// after an outage longer than cfg.DeliveryTimeout every record of the
// backlog would fail before it was sent. The writer bounds delivery itself,
// with a context deadline of cfg.DeliveryTimeout from its produce call.
func ForwardClientOptions(cfg Config) []kgo.Opt {
	// Options apply in order: this one undoes ClientOptions' timeout.
	return append(ClientOptions(cfg), kgo.RecordDeliveryTimeout(0))
}

func codec(name string) kgo.CompressionCodec {
	switch name {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

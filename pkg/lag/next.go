package lag

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// NextRecord is the first data record at or after an offset: what a
// read_committed consumer positioned there reads next.
type NextRecord struct {
	// Found says a data record lies between the offset and the end asked
	// for; when false only transaction markers or aborted records do, or
	// nothing.
	Found bool
	// Offset is the record's offset when Found.
	Offset int64
	// Time is the record's timestamp when Found.
	Time time.Time
}

// NextRecords finds, for each partition p of topic in from, the first data
// record at or after from[p] and below end[p] (the last stable offset), with
// the reader the monitor uses for time lag: control records and aborted
// records are passed over, as the processor passes over them. A partition
// whose log could not be read in time is absent from the result, and err
// says why the reading stopped.
func NextRecords(ctx context.Context, cl *kgo.Client, topic string, from, end map[int32]int64) (map[int32]NextRecord, error) {
	var wants []want
	for p, f := range from {
		wants = append(wants, want{key: offKey{topic, p, f}, end: end[p]})
	}
	found, err := newStamps(cl).lookup(ctx, wants)
	out := make(map[int32]NextRecord, len(found))
	for k, st := range found {
		if st.pendingBefore(end[k.partition]) {
			out[k.partition] = NextRecord{Found: true, Offset: st.clear, Time: st.at}
		} else {
			out[k.partition] = NextRecord{}
		}
	}
	return out, err
}

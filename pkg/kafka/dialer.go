package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// A hung broker (SIGSTOPped, or a JVM stuck in a pause) keeps its listening
// socket, and its kernel still completes TCP handshakes: every dial to it
// succeeds, and only the requests sent after time out. franz-go treats a
// request that timed out as retryable on the same broker: it keeps a
// cached group coordinator until a dial to it fails or it answers
// NOT_COORDINATOR, and a producer retries a partition's leader without
// refreshing its metadata. A hung broker does neither, so a consumer group
// whose coordinator hangs asks it again and again, redialling it with
// success each time, and a producer keeps writing to a hung leader — long
// after the controller fenced it and other brokers took over.
//
// The probing dialer makes "connected" mean "answered". After the TCP
// connection (and the TLS handshake, bounded by the same deadline) it hands
// franz-go a connection whose first answer must arrive within the probe
// deadline. That first answer is to franz-go's own ApiVersions request,
// which it sends on every new connection before anything else (SASL
// included), so the probe costs no extra round trip and leaves the SASL
// exchange alone (a broker refuses a second ApiVersions request on a SASL
// connection). No answer in time fails the read with a *net.OpError whose
// Op is "dial" and which is not a timeout: to franz-go the broker is as
// unreachable as one that refused the connection. It drops the cached
// coordinator (and controller) on that broker, refreshes the metadata
// (producers and consumers find the partitions' new leaders) and asks
// another broker for the coordinator. Once the controller has fenced the
// hung broker (its session, 9 s by default) the group finds its new
// coordinator. A request already in flight on an old connection still
// waits for its own timeout; the probe decides what happens next.

// ProbeTimeout bounds the wait for a new connection's first answer (and its
// TLS handshake): a broker whose kernel accepted the connection but that
// does not answer in this long is taken for hung. A live broker answers
// in milliseconds; the margin is for a loaded broker or machine. A
// shorter kafka.connect_timeout bounds it instead.
const ProbeTimeout = 5 * time.Second

// HungError says a broker accepted a connection but answered nothing (its
// TLS handshake, or the first request) within the probe deadline. It
// reaches franz-go wrapped in a *net.OpError whose Op is "dial".
type HungError struct {
	Broker string        // host:port
	After  time.Duration // how long it was given
	Err    error         // what the handshake or read ended with
}

func (e *HungError) Error() string {
	return fmt.Sprintf("broker %s accepted the connection but answered nothing within %s (hung?): %v", e.Broker, e.After, e.Err)
}

func (e *HungError) Unwrap() error { return e.Err }

// probingDialer dials brokers for kgo.Dialer: TCP, then TLS when tls is
// set, and watches the first answer.
type probingDialer struct {
	connect time.Duration // bounds the TCP connect; 0: none
	probe   time.Duration // bounds the TLS handshake and the first answer
	tls     *tls.Config   // nil: plaintext

	mu    sync.Mutex
	conns map[string]map[*probedConn]struct{} // open connections by broker address
}

// newProbingDialer returns the dialer of a client of cfg whose TLS
// configuration (nil for plaintext) is tc.
func newProbingDialer(cfg Config, tc *tls.Config) *probingDialer {
	probe := ProbeTimeout
	if cfg.ConnectTimeout > 0 {
		probe = min(probe, cfg.ConnectTimeout)
	}
	return &probingDialer{connect: cfg.ConnectTimeout, probe: probe, tls: tc, conns: map[string]map[*probedConn]struct{}{}}
}

// DialContext has the signature kgo.Dialer wants.
func (d *probingDialer) DialContext(ctx context.Context, network, host string) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.connect}
	conn, err := nd.DialContext(ctx, network, host)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(d.probe)
	if d.tls != nil {
		// As franz-go's own TLS dialer does: a configuration without a
		// server name verifies each broker by the host it is dialled at.
		c := d.tls.Clone()
		if c.ServerName == "" {
			server, _, err := net.SplitHostPort(host)
			if err != nil {
				_ = conn.Close()
				return nil, fmt.Errorf("unable to split host:port for dialing: %w", err)
			}
			c.ServerName = server
		}
		hctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		tconn := tls.Client(conn, c)
		if err := tconn.HandshakeContext(hctx); err != nil {
			_ = conn.Close()
			if ctx.Err() == nil && hctx.Err() != nil {
				// The handshake, not the caller, ran out of time: a hung
				// broker (or a plaintext listener waiting for the rest of
				// what it took for the start of a huge request).
				return nil, hung(network, conn, host, d.probe, err)
			}
			return nil, err
		}
		conn = tconn
	}
	p := &probedConn{Conn: conn, d: d, network: network, host: host, deadline: deadline, limit: d.probe}
	p.unanswered.Store(true)
	if err := conn.SetReadDeadline(deadline); err != nil {
		_ = conn.Close()
		return nil, err
	}
	d.mu.Lock()
	if d.conns[host] == nil {
		d.conns[host] = map[*probedConn]struct{}{}
	}
	d.conns[host][p] = struct{}{}
	d.mu.Unlock()
	return p, nil
}

// timedOut closes every other open connection to c's broker: a request on
// c outlived its deadline, so the broker is taken for hung, and a
// connection opened before it hung (franz-go keeps several per broker:
// group, produce, fetch, the rest) would otherwise hold the next request
// for that connection's full timeout — a JoinGroup's is the rebalance
// timeout plus ten seconds. Closed, they fail their requests at once;
// franz-go retries them on new connections, which the probe vets.
func (d *probingDialer) timedOut(c *probedConn) {
	d.mu.Lock()
	var others []*probedConn
	for o := range d.conns[c.host] {
		if o != c {
			others = append(others, o)
		}
	}
	d.mu.Unlock()
	for _, o := range others {
		_ = o.Close()
	}
}

func (d *probingDialer) forget(c *probedConn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.conns[c.host], c)
	if len(d.conns[c.host]) == 0 {
		delete(d.conns, c.host)
	}
}

// hung is the error of a broker that accepted conn but answered nothing
// within limit: a dial error that is not a timeout, as a refused
// connection is.
func hung(network string, conn net.Conn, host string, limit time.Duration, err error) error {
	return &net.OpError{Op: "dial", Net: network, Addr: conn.RemoteAddr(), Err: &HungError{Broker: host, After: limit, Err: err}}
}

// probedConn is a broker connection that reports a hung broker. Until its
// first answer no read deadline may be later than the probe's, and a read
// that times out before any byte arrived fails as a dial. At any time, a
// read that outlived a deadline set in the future (not one franz-go set to
// now to interrupt a read) closes the other connections to the broker.
type probedConn struct {
	net.Conn
	d           *probingDialer
	network     string
	host        string
	deadline    time.Time     // the first answer's
	limit       time.Duration // how long the probe gave it
	unanswered  atomic.Bool
	interrupted atomic.Bool // the latest read deadline was not in the future
	closeOnce   sync.Once
}

// Read implements net.Conn.
func (c *probedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 && c.unanswered.Load() {
		c.unanswered.Store(false)
	}
	if err == nil || n > 0 {
		return n, err
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || c.interrupted.Load() {
		return n, err
	}
	c.d.timedOut(c)
	if c.unanswered.Load() {
		return n, hung(c.network, c.Conn, c.host, c.limit, err)
	}
	return n, err
}

// Close implements net.Conn.
func (c *probedConn) Close() error {
	c.closeOnce.Do(func() { c.d.forget(c) })
	return c.Conn.Close()
}

// SetDeadline implements net.Conn.
func (c *probedConn) SetDeadline(t time.Time) error {
	if err := c.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

// SetReadDeadline implements net.Conn: before the first answer, no later
// than the probe's deadline.
func (c *probedConn) SetReadDeadline(t time.Time) error {
	c.interrupted.Store(!t.IsZero() && !t.After(time.Now()))
	if c.unanswered.Load() && (t.IsZero() || t.After(c.deadline)) {
		t = c.deadline
	}
	return c.Conn.SetReadDeadline(t)
}

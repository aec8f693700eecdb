// Package connlimit caps the connections a server holds open: in total and
// per client address. Wrap the listener an http.Server serves, so that
// clients holding connections open without finishing their requests (slow
// headers, slow bodies, idle keep-alives) can use up neither the process's
// file descriptors nor each other's share:
//
//	ln = connlimit.Listen(ln, connlimit.Limits{Total: 4096, PerAddr: 64})
//	srv.Serve(ln)
//
// A connection over a cap is accepted and closed at once (the client sees
// the connection end), so the kernel's accept queue never fills with them.
// Caps bound connections only; the server's timeouts bound how long each
// is held.
package connlimit

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Limits are the caps of a Listener.
type Limits struct {
	// Total caps the connections open at once; <= 0 means no cap.
	Total int
	// PerAddr caps the connections open at once from one client address
	// (an IPv4 address, or an IPv6 /64); <= 0 means no cap.
	PerAddr int
	// Exempt lists peers PerAddr does not apply to (they still count
	// towards Total): typically the reverse proxies every client comes
	// through.
	Exempt []netip.Prefix
}

// Listener is a net.Listener that enforces Limits. It is safe for
// concurrent use.
type Listener struct {
	net.Listener
	limits Limits

	mu     sync.Mutex
	total  int
	byAddr map[netip.Addr]int

	refused atomic.Int64
}

// Listen wraps ln with limits.
func Listen(ln net.Listener, limits Limits) *Listener {
	return &Listener{Listener: ln, limits: limits, byAddr: map[netip.Addr]int{}}
}

// Accept returns the next connection within the caps; connections over a
// cap are closed and not returned.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, counted := l.addrKey(c.RemoteAddr())
		if !l.admit(key, counted) {
			l.refused.Add(1)
			_ = c.Close()
			continue
		}
		return &conn{Conn: c, release: func() { l.release(key, counted) }}, nil
	}
}

// Refused returns how many connections were closed for being over a cap.
func (l *Listener) Refused() int64 { return l.refused.Load() }

// Open returns the connections open now, in total and from addr's client
// address.
func (l *Listener) Open(addr netip.Addr) (total, fromAddr int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total, l.byAddr[clientKey(addr)]
}

// addrKey returns the per-address key of a peer, and whether PerAddr
// applies to it.
func (l *Listener) addrKey(a net.Addr) (netip.Addr, bool) {
	if l.limits.PerAddr <= 0 {
		return netip.Addr{}, false
	}
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false // not IP (a unix socket): only Total applies
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return netip.Addr{}, false
	}
	ip = ip.Unmap()
	for _, p := range l.limits.Exempt {
		if p.Contains(ip) {
			return netip.Addr{}, false
		}
	}
	return clientKey(ip), true
}

// clientKey is an IPv4 address as is, an IPv6 address as its /64.
func clientKey(a netip.Addr) netip.Addr {
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a
	}
	p, _ := a.Prefix(64) // cannot fail for an IPv6 address
	return p.Addr()
}

func (l *Listener) admit(key netip.Addr, counted bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limits.Total > 0 && l.total >= l.limits.Total {
		return false
	}
	if counted && l.byAddr[key] >= l.limits.PerAddr {
		return false
	}
	l.total++
	if counted {
		l.byAddr[key]++
	}
	return true
}

func (l *Listener) release(key netip.Addr, counted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if counted {
		if l.byAddr[key]--; l.byAddr[key] <= 0 {
			delete(l.byAddr, key)
		}
	}
}

// conn gives its place back once, at its first Close. It keeps the
// underlying connection's ReadFrom and CloseWrite, which net/http uses.
type conn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// ReadFrom lets the server's sendfile path reach the TCP connection.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{c.Conn}, r)
}

// CloseWrite half-closes the connection when the underlying one can (the
// server uses it to let a client read an error answer before the close).
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// writerOnly hides every method but Write, so io.Copy cannot loop back
// into ReadFrom.
type writerOnly struct{ io.Writer }

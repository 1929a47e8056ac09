package notify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// Policy says which endpoint addresses notifications may go to. The shop's endpoint is a URL a
// merchant typed, so without it the checkout could be pointed at its own network: the database,
// the metrics listener, a cloud metadata service.
type Policy struct {
	// AllowLoopback lets http:// and loopback addresses through: the sandbox mode, where the
	// shop under test runs on the same machine.
	AllowLoopback bool
	// AllowPrivate lets private, loopback and link-local addresses through (an operator whose
	// shop is on the internal network says so in configuration).
	AllowPrivate bool
}

// ErrAddress is wrapped by every refusal of an endpoint's URL or address.
var ErrAddress = errors.New("not an allowed endpoint address")

// CheckURL validates an endpoint URL as the merchant gives it: absolute, https (http only to
// loopback in sandbox mode), no credentials in it, and not a literal address the policy refuses.
// Host names are checked again at every delivery, after they are resolved (see Dial).
func (p Policy) CheckURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: enter a full URL, like https://shop.example/checkout-events", ErrAddress)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: the URL must not carry a user name or password", ErrAddress)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("%w: the URL must not have a #fragment", ErrAddress)
	}
	host := u.Hostname()
	addr, literal := parseHost(host)
	switch u.Scheme {
	case "https":
	case "http":
		// Plain http only where nothing crosses a network the operator does not own: this
		// machine in sandbox mode, or the operator's own network when allowed.
		local := host == "localhost" || literal && addr.IsLoopback()
		internal := local || literal && (addr.IsPrivate() || addr.IsLinkLocalUnicast())
		if !(p.AllowLoopback && local || p.AllowPrivate && internal) {
			return nil, fmt.Errorf("%w: the URL must be https", ErrAddress)
		}
	default:
		return nil, fmt.Errorf("%w: the URL must be https", ErrAddress)
	}
	if literal {
		if err := p.checkAddr(addr); err != nil {
			return nil, err
		}
	}
	if len(u.String()) > 2000 {
		return nil, fmt.Errorf("%w: the URL is longer than 2000 characters", ErrAddress)
	}
	return u, nil
}

func parseHost(host string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(host)
	return a.Unmap(), err == nil
}

// checkAddr refuses an address the policy does not allow.
func (p Policy) checkAddr(a netip.Addr) error {
	a = a.Unmap()
	if p.AllowPrivate {
		return nil
	}
	if a.IsLoopback() && p.AllowLoopback {
		return nil
	}
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsUnspecified() || a.IsMulticast() || a.IsInterfaceLocalMulticast() || cgnat.Contains(a) {
		return fmt.Errorf("%w: %s is a private, loopback or link-local address", ErrAddress, a)
	}
	return nil
}

// cgnat is the shared address space (RFC 6598), private in all but name.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// control runs for every connection the sender's dialer makes, after the host name has been
// resolved and before connecting: the check is on the address actually dialled, so a DNS answer
// that changes after the URL was saved cannot aim a delivery at the internal network.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrAddress, address)
	}
	return p.checkAddr(ap.Addr())
}

// DialContext dials as net.Dialer does, refusing addresses the policy does not allow.
func (p Policy) DialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	dd := *d
	dd.Control = p.control
	return dd.DialContext
}

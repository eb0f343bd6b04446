package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Client is a minimal HTTP/1.1 keep-alive client for one connection at a
// time: GET / with a fixed Host (Get), or requests built by the caller
// (Send); not safe for concurrent use. The load generators use it instead
// of net/http's client because it costs a few microseconds per request,
// so that a single core of load can saturate a proxy sharing a core with
// its backend; net/http's client costs several times more. It keeps no cookies: to a proxy, every request is a new
// client.
type Client struct {
	addr    string
	req     []byte
	timeout time.Duration
	conn    net.Conn
	br      *bufio.Reader
	body    []byte
	reused  bool // conn has served a response already
}

// ErrNotSent marks a failure before any byte of a response arrived on a
// reused connection: the server closed it while idle, and the request can
// be sent again on a new one (what net/http does for idempotent requests).
var ErrNotSent = errors.New("connection closed before a response")

// NewClient returns a client for GET / with Host host on addr; it
// connects on first use.
func NewClient(addr, host string) *Client {
	return &Client{
		addr:    addr,
		req:     []byte("GET / HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: slipway-bench\r\n\r\n"),
		timeout: 10 * time.Second,
	}
}

// Get sends one request and returns the status and body (valid until the
// next call). retried is true if a closed keep-alive connection made it
// send the request a second time.
func (c *Client) Get() (status int, body []byte, retried bool, err error) {
	for attempt := 0; ; attempt++ {
		if err := c.connect(); err != nil {
			return 0, nil, retried, err
		}
		reused := c.reused
		status, body, keep, err := c.roundTrip(c.req)
		if err != nil || !keep {
			c.Close()
		} else {
			c.reused = true
		}
		if err != nil && reused && attempt == 0 && errors.Is(err, ErrNotSent) {
			retried = true
			continue
		}
		return status, body, retried, err
	}
}

// Send sends req, a complete HTTP/1.1 request (headers and body), and
// returns the status and body of the answer (valid until the next call).
// Unlike Get it never sends a request twice: a POST may have been acted
// on even when no answer came back, so any failure is returned.
func (c *Client) Send(req []byte) (status int, body []byte, err error) {
	if err := c.connect(); err != nil {
		return 0, nil, err
	}
	status, body, keep, err := c.roundTrip(req)
	if err != nil || !keep {
		c.Close()
	} else {
		c.reused = true
	}
	return status, body, err
}

// connect opens a connection unless one is open.
func (c *Client) connect() error {
	if c.conn != nil {
		return nil
	}
	conn, err := net.DialTimeout("tcp", c.addr, c.timeout)
	if err != nil {
		return err
	}
	c.conn, c.reused = conn, false
	if c.br == nil {
		c.br = bufio.NewReaderSize(conn, 16<<10)
	} else {
		c.br.Reset(conn)
	}
	return nil
}

// Close closes the connection, if any; the next Get or Send opens a new
// one.
func (c *Client) Close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.conn = nil
	}
}

// roundTrip writes req and reads one response; keep is false when the
// connection must not be reused.
func (c *Client) roundTrip(req []byte) (status int, body []byte, keep bool, err error) {
	if err := c.conn.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, nil, false, err
	}
	if _, err := c.conn.Write(req); err != nil {
		return 0, nil, false, fmt.Errorf("%w: write: %w", ErrNotSent, err)
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		if len(line) == 0 {
			return 0, nil, false, fmt.Errorf("%w: %w", ErrNotSent, err)
		}
		return 0, nil, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, false, fmt.Errorf("malformed status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, false, fmt.Errorf("malformed status line %q", line)
	}
	length, chunked, keep := -1, false, line[7] == '1'
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return 0, nil, false, fmt.Errorf("read headers: %w", err)
		}
		if len(line) <= 2 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(v)); err != nil {
				return 0, nil, false, fmt.Errorf("bad Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.Contains(bytes.ToLower(v), []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			if bytes.EqualFold(v, []byte("close")) {
				keep = false
			}
		}
	}
	c.body = c.body[:0]
	switch {
	case chunked:
		err = c.readChunked()
	case length >= 0:
		if cap(c.body) < length {
			c.body = make([]byte, 0, length)
		}
		c.body = c.body[:length]
		_, err = io.ReadFull(c.br, c.body)
	case status == 204 || status == 304:
	default:
		c.body, err = io.ReadAll(c.br)
		keep = false
	}
	if err != nil {
		return 0, nil, false, fmt.Errorf("read body: %w", err)
	}
	return status, c.body, keep, nil
}

func (c *Client) readChunked() error {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		sz, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte(";"))
		n, err := strconv.ParseInt(string(sz), 16, 32)
		if err != nil {
			return fmt.Errorf("bad chunk size %q", line)
		}
		if n == 0 {
			for { // trailers, then the empty line
				line, err := c.br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(line) <= 2 {
					return nil
				}
			}
		}
		start := len(c.body)
		c.body = append(c.body, make([]byte, n)...)
		if _, err := io.ReadFull(c.br, c.body[start:]); err != nil {
			return err
		}
		if _, err := c.br.Discard(2); err != nil {
			return err
		}
	}
}

package gcstest

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy passes requests on to a fake GCS and fails some of them: a
// seeded fraction transiently (SetRate), and every request naming a
// denied object permanently (Deny). It counts what it did; read the
// counts after the work is done.
type Proxy struct {
	Requests, Unavailable, ResetBefore, ResetAfter, CutBodies, Denied atomic.Int64

	upstream string
	client   *http.Client

	mu   sync.Mutex
	rng  *rand.Rand
	rate float64
	deny map[string]int
	lose map[string]int // method → answers still to lose
}

// SetRate sets the fraction of requests that fail transiently, in four
// equal parts: a 503 answer, a connection reset before the request reaches
// the server, a reset after the server has acted on it (the answer is
// lost), and — for downloads — a body cut halfway.
func (p *Proxy) SetRate(rate float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate = rate
}

// Deny answers every request naming object ("bucket/name") with status
// (403, 404) and GCS's own message for it, which does not name the object;
// status 0 lets the object through again.
func (p *Proxy) Deny(object string, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if status == 0 {
		delete(p.deny, object)
		return
	}
	p.deny[object] = status
}

// LoseAnswers makes the next n requests of an HTTP method (say "DELETE")
// reach the server and then lose their answer (a connection reset after
// the server acted): the fault that only an idempotent retry survives,
// aimed where a seeded rate would hit it only by chance.
func (p *Proxy) LoseAnswers(method string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lose[method] = n
}

// Injected is the number of transient faults the proxy made.
func (p *Proxy) Injected() int64 {
	return p.Unavailable.Load() + p.ResetBefore.Load() + p.ResetAfter.Load() + p.CutBodies.Load()
}

func (p *Proxy) String() string {
	return fmt.Sprintf("%d requests: %d answered 503, %d reset before and %d after the server acted, %d bodies cut, %d denied",
		p.Requests.Load(), p.Unavailable.Load(), p.ResetBefore.Load(), p.ResetAfter.Load(), p.CutBodies.Load(), p.Denied.Load())
}

// StartFlaky serves a fake GCS with the given buckets behind a Proxy that
// fails no request until told to (its faults drawn from seed), and points
// STORAGE_EMULATOR_HOST at the proxy. Every URL the server hands out
// (resumable upload sessions) names the proxy, so every request passes
// through it.
func StartFlaky(t testing.TB, seed uint64, buckets ...string) *Proxy {
	t.Helper()
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{
		upstream: "http://" + serve(t, freePort(t), front.Addr().String(), buckets),
		rng:      rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		deny:     map[string]int{},
		lose:     map[string]int{},
		client:   &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	hs := &http.Server{Handler: p}
	go hs.Serve(front)
	t.Cleanup(func() { hs.Close() })
	t.Setenv("STORAGE_EMULATOR_HOST", front.Addr().String())
	return p
}

type fault int

const (
	pass fault = iota
	unavailable
	resetBefore
	resetAfter
	cutBody
)

func (p *Proxy) draw(method string) fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lose[method] > 0 {
		p.lose[method]--
		return resetAfter
	}
	if p.rng.Float64() >= p.rate {
		return pass
	}
	return fault(1 + p.rng.IntN(4))
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.Requests.Add(1)
	if status := p.denied(r); status != 0 {
		p.Denied.Add(1)
		writeError(w, status)
		return
	}
	f := p.draw(r.Method)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		reset(w)
		return
	}
	switch f {
	case unavailable:
		p.Unavailable.Add(1)
		writeError(w, http.StatusServiceUnavailable)
		return
	case resetBefore:
		p.ResetBefore.Add(1)
		reset(w)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, p.upstream+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	req.Host = r.Host // the server checks the host it was given as public
	res, err := p.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if f == resetAfter {
		p.ResetAfter.Add(1)
		reset(w)
		return
	}
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(res.StatusCode)
	if f == cutBody && len(out) > 1 && r.Method == http.MethodGet {
		p.CutBodies.Add(1)
		w.Write(out[:len(out)/2])
		w.(http.Flusher).Flush()
		reset(w)
		return
	}
	w.Write(out)
}

// denied tells whether the request names a denied object: in the path of
// the JSON API (…/b/<bucket>/o/<name>), of the XML API (/<bucket>/<name>)
// or in an upload's name parameter.
func (p *Proxy) denied(r *http.Request) int {
	path, _ := url.PathUnescape(r.URL.EscapedPath())
	bucket, name := "", ""
	if i := strings.Index(path, "/b/"); i >= 0 {
		rest := path[i+3:]
		bucket, rest, _ = strings.Cut(rest, "/")
		name, _ = strings.CutPrefix(rest, "o/")
		if name == "" || name == rest {
			name = r.URL.Query().Get("name")
		}
	} else {
		bucket, name, _ = strings.Cut(strings.TrimPrefix(path, "/"), "/")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.deny[bucket+"/"+name]
}

// writeError answers as GCS does, in the JSON error layout the client
// parses into a googleapi.Error; the messages name no object.
func writeError(w http.ResponseWriter, status int) {
	msg := map[int]string{
		http.StatusForbidden:          "Access denied.",
		http.StatusNotFound:           "No such object.",
		http.StatusServiceUnavailable: "We encountered an internal error. Please try again.",
	}[status]
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"errors":[{"message":%q,"reason":"x"}]}}`, status, msg, msg)
}

// reset drops the connection with a TCP reset, as a failing load balancer
// or a broken network does.
func reset(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

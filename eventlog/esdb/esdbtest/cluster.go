// Package esdbtest is an in-process fake of an EventStoreDB / KurrentDB
// cluster that speaks the server's gRPC protocol, so that the esdb backend,
// the hub and its tests run through the real client (EventStore-Client-Go
// v4.2.0) without a server.
//
// It models what matters for the hub's correctness, as docs/operations.md
// describes the cluster, and nothing more:
//
//   - nodes with their own addresses and gossip: one leader or none, followers,
//     leader changes (Elect), nodes going away and coming back (Stop, Start),
//     elections during which no node is eligible (SetElecting), and so node
//     discovery that fails;
//   - followers that replicate the log, or lag behind it (Freeze), and serve
//     reads from what they hold; the requires-leader header: a follower
//     answers not-leader with the leader's endpoint, or unavailable when it
//     knows of no live leader; writes to a follower are forwarded to the leader;
//   - expected revisions, idempotent appends (an append whose event ids were
//     written already, at the same expected revision, succeeds without writing
//     twice, and reports no position, as the server does), tombstones
//     ($streamDeleted in $all; reads and appends answer stream-deleted);
//   - $all reads and filtered subscriptions with checkpoints, caught-up and
//     drops;
//   - deadlines (every handler honours its context) and server timeouts (an
//     append that commits and then answers deadline-exceeded, or never
//     answers), and a gate that holds appends;
//   - authentication (basic credentials over TLS; reading $all needs an
//     admin).
//
// It is no proof that the real server behaves so: it is the behaviour the
// backend is written against, in one place, executable.
package esdbtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gossipapi "github.com/EventStore/EventStore-Client-Go/v4/protos/gossip"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Options configure a Cluster.
type Options struct {
	// Nodes is the number of nodes (default 3).
	Nodes int
	// TLS serves every node over TLS with a self-signed certificate for
	// 127.0.0.1 (the connection string names its file as tlsCAFile). The
	// client sends credentials only over TLS.
	TLS bool
	// Users are the logins and passwords the cluster knows. With any, every
	// call but gossip must carry valid credentials (Unauthenticated
	// otherwise), and reading $all needs an admin (PermissionDenied).
	Users map[string]string
	// Admins are the users that may read $all (default: "admin").
	Admins []string
	// Host is the address nodes listen on and advertise in gossip (default
	// 127.0.0.1); ":0" ports are picked unless Ports is set.
	Host string
	// Ports, when set, are the nodes' ports (one per node).
	Ports []int
	// Advertise, when set, is the host each node advertises in gossip
	// instead of Host (the stand-in of the deployment tests).
	Advertise []string
}

// Fault is how the next appends misbehave (FailAppends).
type Fault int

// Faults.
const (
	// TimeoutAfterCommit commits the append, then answers deadline-exceeded:
	// the server's commit timeout, after which the write may well be durable.
	TimeoutAfterCommit Fault = iota + 1
	// HangAfterCommit commits the append and never answers: the client's
	// deadline ends the call.
	HangAfterCommit
	// UnavailableBeforeCommit refuses the append with unavailable.
	UnavailableBeforeCommit
)

// Cluster is the fake. It is safe for concurrent use.
type Cluster struct {
	opts   Options
	caFile string
	tmp    string

	mu       sync.Mutex
	nodes    []*Node
	leader   int // -1: none
	electing bool
	all      []*event
	streams  map[string]*stream
	changed  chan struct{} // closed and replaced on every change of what nodes hold
	fault    Fault
	faults   int
	gate     func(stream string)
	readGate func(stream string)

	dropEvery atomic.Int64
	drops     atomic.Int64
	appends   atomic.Int64
	subs      atomic.Int64
}

type stream struct {
	events  []*event
	deleted int // index in all of the tombstone + 1; 0: not deleted
}

type event struct {
	id      [16]byte
	stream  string
	rev     uint64
	idx     int
	pos     uint64
	typ     string
	created time.Time
	meta    []byte
	data    []byte
}

// Node is one node of the cluster.
type Node struct {
	c    *Cluster
	i    int
	host string
	port int
	lis  net.Listener
	srv  *grpc.Server

	// Under c.mu.
	down   bool
	frozen bool
	held   int // $all events this node holds while frozen
	served int // reads of streams this node answered
	drops  []context.CancelCauseFunc

	api.UnimplementedStreamsServer
}

// gossip is a node's gossip service.
type gossip struct {
	gossipapi.UnimplementedGossipServer
	n *Node
}

// Start starts a cluster for a test and stops it when the test ends.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// New starts a cluster; Close stops it. Node 0 is the leader.
func New(opts Options) (*Cluster, error) {
	if opts.Nodes <= 0 {
		opts.Nodes = 3
	}
	if len(opts.Admins) == 0 {
		opts.Admins = []string{"admin"}
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	c := &Cluster{opts: opts, streams: map[string]*stream{}, changed: make(chan struct{})}
	var creds credentials.TransportCredentials
	if opts.TLS {
		var err error
		if creds, err = c.certificate(); err != nil {
			return nil, err
		}
	}
	for i := range opts.Nodes {
		port := 0
		if i < len(opts.Ports) {
			port = opts.Ports[i]
		}
		lis, err := net.Listen("tcp", net.JoinHostPort(opts.Host, strconv.Itoa(port)))
		if err != nil {
			c.Close()
			return nil, err
		}
		n := &Node{c: c, i: i, lis: lis, host: opts.Host, port: lis.Addr().(*net.TCPAddr).Port}
		if i < len(opts.Advertise) {
			n.host = opts.Advertise[i]
		}
		sopts := []grpc.ServerOption{
			// The client pings every 10s even when idle; let it.
			grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
			grpc.UnaryInterceptor(n.unary), grpc.StreamInterceptor(n.stream),
		}
		if creds != nil {
			sopts = append(sopts, grpc.Creds(creds))
		}
		n.srv = grpc.NewServer(sopts...)
		api.RegisterStreamsServer(n.srv, n)
		gossipapi.RegisterGossipServer(n.srv, gossip{n: n})
		c.nodes = append(c.nodes, n)
		go func() { _ = n.srv.Serve(lis) }()
	}
	// Some system events first, as on a real server.
	c.Write("$users", "$User", []byte(`{}`))
	c.Write("$settings", "$settings", []byte(`{}`))
	return c, nil
}

// Close stops every node.
func (c *Cluster) Close() {
	for _, n := range c.nodes {
		n.srv.Stop()
	}
	if c.tmp != "" {
		_ = os.RemoveAll(c.tmp)
	}
}

// URL returns a connection string to every node as gossip seeds, with the
// credentials login:password when login is not empty, and discovery settings
// that give up quickly (3 attempts, 50 ms apart, 1 s gossip timeout); extra
// query parameters ("nodePreference=follower") are appended.
func (c *Cluster) URL(login, password string, extra ...string) string {
	var hosts []string
	for _, n := range c.nodes {
		hosts = append(hosts, net.JoinHostPort(c.opts.Host, strconv.Itoa(n.port)))
	}
	user := ""
	if login != "" {
		user = login + ":" + password + "@"
	}
	q := []string{"maxDiscoverAttempts=3", "discoveryInterval=50", "gossipTimeout=1"}
	if c.opts.TLS {
		q = append(q, "tls=true", "tlsCAFile="+c.caFile)
	} else {
		q = append(q, "tls=false")
	}
	return "esdb://" + user + strings.Join(hosts, ",") + "?" + strings.Join(append(q, extra...), "&")
}

// Node returns node i.
func (c *Cluster) Node(i int) *Node { return c.nodes[i] }

// Addr returns the node's address.
func (n *Node) Addr() string { return net.JoinHostPort(n.c.opts.Host, strconv.Itoa(n.port)) }

// Leader returns the leader's index, -1 when there is none.
func (c *Cluster) Leader() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader
}

// Elect makes node i the leader (-1: none, as right after the leader died):
// every node whose role changes drops its streaming calls, as a node going
// through an election does. The new leader holds the whole log.
func (c *Cluster) Elect(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.leader
	if old == i {
		return
	}
	c.leader = i
	for _, j := range []int{old, i} {
		if j >= 0 {
			n := c.nodes[j]
			n.frozen = false
			n.dropLocked()
		}
	}
	c.notifyLocked()
}

// SetElecting reports every node in a state no client may use (an election
// under way): node discovery fails, and calls answer unavailable.
func (c *Cluster) SetElecting(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.electing = on
	if on {
		for _, n := range c.nodes {
			n.dropLocked()
		}
	}
}

// Stop takes the node away: every call to it, gossip included, answers
// unavailable and its streaming calls drop; the others see it dead.
func (n *Node) Stop() {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	n.down = true
	n.dropLocked()
}

// Start brings the node back.
func (n *Node) Start() {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	n.down = false
}

// Down takes every node away (the cluster is lost); Up brings them back.
func (c *Cluster) Down() {
	for _, n := range c.nodes {
		n.Stop()
	}
}

// Up brings every node back.
func (c *Cluster) Up() {
	for _, n := range c.nodes {
		n.Start()
	}
}

// Freeze stops replication to follower n: it keeps serving what it holds.
func (n *Node) Freeze() {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	if !n.frozen {
		n.frozen, n.held = true, len(n.c.all)
	}
}

// Thaw lets follower n catch up.
func (n *Node) Thaw() {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	n.frozen = false
	n.c.notifyLocked()
}

// Served returns how many stream reads the node has answered.
func (n *Node) Served() int {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	return n.served
}

// FailAppends makes the next count appends misbehave as f says.
func (c *Cluster) FailAppends(f Fault, count int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fault, c.faults = f, count
}

// SetGate calls gate (which may block) before every append, with the stream's
// name; nil removes it.
func (c *Cluster) SetGate(gate func(stream string)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gate = gate
}

// SetReadGate calls gate (which may block) in every read of a stream, with
// its name, after the node has taken what it answers and before it sends it;
// nil removes it.
func (c *Cluster) SetReadGate(gate func(stream string)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readGate = gate
}

// DropSubscriptionsEvery makes each subscription fail (unavailable) after it
// has sent n events; 0 never.
func (c *Cluster) DropSubscriptionsEvery(n int) { c.dropEvery.Store(int64(n)) }

// Drops returns how many subscriptions were dropped so.
func (c *Cluster) Drops() int { return int(c.drops.Load()) }

// Subscriptions returns how many subscriptions to $all are live.
func (c *Cluster) Subscriptions() int { return int(c.subs.Load()) }

// Appends returns how many append calls reached the cluster.
func (c *Cluster) Appends() int { return int(c.appends.Load()) }

// Write appends one event to a stream without checks (for seeding other
// streams, system streams included).
func (c *Cluster) Write(stream, typ string, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var id [16]byte
	copy(id[:], "seed")
	binary.BigEndian.PutUint64(id[8:], uint64(len(c.all)))
	c.appendLocked(stream, []*event{{id: id, typ: typ, data: data}})
}

// Count returns how many events stream holds (the tombstone not counted).
func (c *Cluster) Count(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.streams[name]; s != nil {
		return len(s.events)
	}
	return 0
}

// IDs returns the event ids of stream, in order.
func (c *Cluster) IDs(name string) [][16]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids [][16]byte
	if s := c.streams[name]; s != nil {
		for _, e := range s.events {
			ids = append(ids, e.id)
		}
	}
	return ids
}

// Tombstoned reports whether stream was tombstoned.
func (c *Cluster) Tombstoned(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.streams[name]
	return s != nil && s.deleted > 0
}

func (c *Cluster) appendLocked(name string, evs []*event) {
	s := c.streams[name]
	if s == nil {
		s = &stream{}
		c.streams[name] = s
	}
	for _, e := range evs {
		e.stream = name
		e.rev = uint64(len(s.events))
		e.idx = len(c.all)
		e.pos = 1000 + 100*uint64(e.idx)
		e.created = time.Now()
		c.all = append(c.all, e)
		s.events = append(s.events, e)
	}
	c.notifyLocked()
}

func (c *Cluster) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// limitLocked is how many $all events node n holds.
func (c *Cluster) limitLocked(n *Node) int {
	if n.frozen && c.leader != n.i {
		return min(n.held, len(c.all))
	}
	return len(c.all)
}

func (n *Node) dropLocked() {
	for _, d := range n.drops {
		d(errDropped)
	}
	n.drops = nil
}

var errDropped = errors.New("fake: the node dropped the call")

// ---- Admission: down nodes, authentication, the leader header ----

type loginKey struct{}

func (n *Node) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, err := n.admit(ctx, info.FullMethod, func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) })
	if err != nil {
		return nil, err
	}
	return h(ctx, req)
}

type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s serverStream) Context() context.Context { return s.ctx }

func (n *Node) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	ctx, err := n.admit(ss.Context(), info.FullMethod, ss.SetTrailer)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	n.c.mu.Lock()
	if n.down || n.c.electing {
		n.c.mu.Unlock()
		return status.Error(codes.Unavailable, "fake: node unavailable")
	}
	n.drops = append(n.drops, cancel)
	n.c.mu.Unlock()
	err = h(srv, serverStream{ss, ctx})
	if errors.Is(context.Cause(ctx), errDropped) {
		return status.Error(codes.Unavailable, "fake: the node dropped the call")
	}
	return err
}

// admit refuses a call to a node that is down, or in an election, one
// without valid credentials, and a streams call that requires the leader
// on a node that is not: not-leader with the leader's endpoint when there is
// a live one, unavailable otherwise.
func (n *Node) admit(ctx context.Context, method string, trailer func(metadata.MD)) (context.Context, error) {
	c := n.c
	c.mu.Lock()
	down, electing, leader := n.down, c.electing, c.leader
	var leaderNode *Node
	if leader >= 0 && !c.nodes[leader].down {
		leaderNode = c.nodes[leader]
	}
	c.mu.Unlock()
	if down {
		return ctx, status.Error(codes.Unavailable, "fake: node unavailable")
	}
	if strings.Contains(method, "gossip") {
		return ctx, nil
	}
	if electing {
		return ctx, status.Error(codes.Unavailable, "fake: server is not ready (election)")
	}
	md, _ := metadata.FromIncomingContext(ctx)
	if len(c.opts.Users) > 0 {
		login, ok := basicAuth(md.Get("authorization"))
		if !ok || c.opts.Users[login] == "" {
			return ctx, status.Error(codes.Unauthenticated, "fake: bad credentials")
		}
		if pw := c.opts.Users[login]; !checkPassword(md.Get("authorization"), login, pw) {
			return ctx, status.Error(codes.Unauthenticated, "fake: bad credentials")
		}
		ctx = context.WithValue(ctx, loginKey{}, login)
	}
	if v := md.Get("requires-leader"); len(v) > 0 && v[0] == "true" && leader != n.i {
		if leaderNode == nil {
			return ctx, status.Error(codes.Unavailable, "fake: server is not ready (no leader)")
		}
		trailer(metadata.Pairs(
			"exception", "not-leader",
			"leader-endpoint-host", leaderNode.host,
			"leader-endpoint-port", strconv.Itoa(leaderNode.port)))
		return ctx, status.Error(codes.NotFound, "Leader info available")
	}
	return ctx, nil
}

func basicAuth(h []string) (string, bool) {
	if len(h) == 0 || !strings.HasPrefix(h[0], "Basic ") {
		return "", false
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(h[0], "Basic "))
	if err != nil {
		return "", false
	}
	login, _, ok := strings.Cut(string(b), ":")
	return login, ok
}

func checkPassword(h []string, login, password string) bool {
	return h[0] == "Basic "+base64.StdEncoding.EncodeToString([]byte(login+":"+password))
}

// mayReadAll reports whether the caller may read $all.
func (c *Cluster) mayReadAll(ctx context.Context) bool {
	if len(c.opts.Users) == 0 {
		return true
	}
	login, _ := ctx.Value(loginKey{}).(string)
	for _, a := range c.opts.Admins {
		if a == login {
			return true
		}
	}
	return false
}

// ---- Gossip ----

// Read answers the cluster's membership as this node sees it.
func (g gossip) Read(_ context.Context, _ *shared.Empty) (*gossipapi.ClusterInfo, error) {
	c := g.n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	info := &gossipapi.ClusterInfo{}
	for _, m := range c.nodes {
		state := gossipapi.MemberInfo_Follower
		switch {
		case c.electing:
			state = gossipapi.MemberInfo_Unknown
		case m.i == c.leader:
			state = gossipapi.MemberInfo_Leader
		}
		var id [16]byte
		id[15] = byte(m.i + 1)
		info.Members = append(info.Members, &gossipapi.MemberInfo{
			InstanceId:   uuid(id),
			TimeStamp:    time.Now().UnixNano(),
			State:        state,
			IsAlive:      !m.down,
			HttpEndPoint: &gossipapi.EndPoint{Address: m.host, Port: uint32(m.port)},
		})
	}
	return info, nil
}

// ---- Streams ----

// Append appends to a stream, checking the expected revision, deduplicating
// by event id, refusing a tombstoned stream, with the configured faults.
func (n *Node) Append(s api.Streams_AppendServer) error {
	c := n.c
	c.appends.Add(1)
	req, err := s.Recv()
	if err != nil {
		return err
	}
	opts := req.GetOptions()
	name := string(opts.GetStreamIdentifier().GetStreamName())
	var evs []*event
	for {
		r, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		m := r.GetProposedMessage()
		st := m.GetId().GetStructured()
		var id [16]byte
		binary.BigEndian.PutUint64(id[:8], uint64(st.GetMostSignificantBits()))
		binary.BigEndian.PutUint64(id[8:], uint64(st.GetLeastSignificantBits()))
		evs = append(evs, &event{id: id, typ: m.GetMetadata()["type"], meta: m.GetCustomMetadata(), data: m.GetData()})
	}
	c.mu.Lock()
	gate := c.gate
	c.mu.Unlock()
	if gate != nil {
		gate(name)
	}
	if err := s.Context().Err(); err != nil {
		return status.FromContextError(err).Err()
	}

	c.mu.Lock()
	if c.leader < 0 || c.nodes[c.leader].down {
		c.mu.Unlock() // a follower cannot forward the write
		return status.Error(codes.Unavailable, "fake: server is not ready (no leader)")
	}
	fault := Fault(0)
	if c.faults > 0 {
		c.faults--
		fault = c.fault
	}
	if fault == UnavailableBeforeCommit {
		c.mu.Unlock()
		return status.Error(codes.Unavailable, "fake: unavailable")
	}
	st := c.streams[name]
	if st != nil && st.deleted > 0 {
		c.mu.Unlock()
		return streamDeleted(s.SetTrailer, name)
	}
	var cur []*event
	if st != nil {
		cur = st.events
	}
	if last, ok := duplicate(cur, opts, evs); ok {
		c.mu.Unlock()
		// The server answers an idempotent write with its revision and no
		// position.
		return s.SendAndClose(&api.AppendResp{Result: &api.AppendResp_Success_{Success: &api.AppendResp_Success{
			CurrentRevisionOption: &api.AppendResp_Success_CurrentRevision{CurrentRevision: last.rev},
			PositionOption:        &api.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}},
		}}})
	}
	if !expectedHolds(cur, opts) {
		wev := &api.AppendResp_WrongExpectedVersion{}
		if len(cur) == 0 {
			wev.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
		} else {
			wev.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(len(cur) - 1)}
		}
		c.mu.Unlock()
		return s.SendAndClose(&api.AppendResp{Result: &api.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: wev}})
	}
	if len(evs) == 0 {
		c.mu.Unlock()
		return status.Error(codes.InvalidArgument, "fake: empty append")
	}
	c.appendLocked(name, evs)
	c.mu.Unlock()
	switch fault {
	case TimeoutAfterCommit:
		return status.Error(codes.DeadlineExceeded, "fake: operation timed out (the write was committed)")
	case HangAfterCommit:
		<-s.Context().Done()
		return status.FromContextError(s.Context().Err()).Err()
	}
	// Like the real server, report where the write starts (its first event).
	return s.SendAndClose(&api.AppendResp{Result: &api.AppendResp_Success_{Success: &api.AppendResp_Success{
		CurrentRevisionOption: &api.AppendResp_Success_CurrentRevision{CurrentRevision: evs[len(evs)-1].rev},
		PositionOption:        &api.AppendResp_Success_Position{Position: &api.AppendResp_Position{CommitPosition: evs[0].pos, PreparePosition: evs[0].pos}},
	}}})
}

// expectedHolds checks an append's expected revision against the stream.
func expectedHolds(cur []*event, opts *api.AppendReq_Options) bool {
	switch e := opts.GetExpectedStreamRevision().(type) {
	case *api.AppendReq_Options_NoStream:
		return len(cur) == 0
	case *api.AppendReq_Options_StreamExists:
		return len(cur) > 0
	case *api.AppendReq_Options_Revision:
		return len(cur) > 0 && uint64(len(cur)-1) == e.Revision
	}
	return true
}

// duplicate reports whether evs were written already: at the place the
// expected revision names (exact revision, no stream), or, for any revision,
// wherever the first of them is in the stream.
func duplicate(cur []*event, opts *api.AppendReq_Options, evs []*event) (last *event, ok bool) {
	if len(evs) == 0 {
		return nil, false
	}
	start := -1
	switch e := opts.GetExpectedStreamRevision().(type) {
	case *api.AppendReq_Options_NoStream:
		start = 0
	case *api.AppendReq_Options_Revision:
		if e.Revision < math.MaxInt32 {
			start = int(e.Revision) + 1
		}
	default:
		for i, x := range cur {
			if x.id == evs[0].id {
				start = i
				break
			}
		}
	}
	if start < 0 || start+len(evs) > len(cur) {
		return nil, false
	}
	for i, e := range evs {
		if cur[start+i].id != e.id {
			return nil, false
		}
	}
	return cur[start+len(evs)-1], true
}

func streamDeleted(trailer func(metadata.MD), name string) error {
	trailer(metadata.Pairs("exception", "stream-deleted", "stream-name", name))
	return status.Error(codes.FailedPrecondition, fmt.Sprintf("Event stream '%s' is deleted.", name))
}

// Tombstone deletes a stream for good: a $streamDeleted event closes it.
func (n *Node) Tombstone(ctx context.Context, req *api.TombstoneReq) (*api.TombstoneResp, error) {
	c := n.c
	name := string(req.GetOptions().GetStreamIdentifier().GetStreamName())
	c.mu.Lock()
	if c.leader < 0 || c.nodes[c.leader].down {
		c.mu.Unlock()
		return nil, status.Error(codes.Unavailable, "fake: server is not ready (no leader)")
	}
	st := c.streams[name]
	if st != nil && st.deleted > 0 {
		c.mu.Unlock()
		return nil, streamDeleted(func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) }, name)
	}
	if st == nil {
		st = &stream{}
		c.streams[name] = st
	}
	var id [16]byte
	_, _ = rand.Read(id[:])
	e := &event{id: id, stream: name, rev: math.MaxInt64, idx: len(c.all), typ: "$streamDeleted", created: time.Now()}
	e.pos = 1000 + 100*uint64(e.idx)
	c.all = append(c.all, e)
	st.deleted = e.idx + 1
	c.notifyLocked()
	c.mu.Unlock()
	return &api.TombstoneResp{PositionOption: &api.TombstoneResp_Position_{Position: &api.TombstoneResp_Position{CommitPosition: e.pos, PreparePosition: e.pos}}}, nil
}

// Read reads a stream or $all, or subscribes to $all.
func (n *Node) Read(req *api.ReadReq, s api.Streams_ReadServer) error {
	o := req.GetOptions()
	switch so := o.GetStreamOption().(type) {
	case *api.ReadReq_Options_Stream:
		return n.readStream(o, so.Stream, s)
	case *api.ReadReq_Options_All:
		if !n.c.mayReadAll(s.Context()) {
			return status.Error(codes.PermissionDenied, "fake: access denied to $all")
		}
		if o.GetSubscription() != nil {
			return n.subscribeAll(o, so.All, s)
		}
		return n.readAll(o, so.All, s)
	}
	return status.Error(codes.Unimplemented, "fake: read option")
}

func (n *Node) readStream(o *api.ReadReq_Options, so *api.ReadReq_Options_StreamOptions, s api.Streams_ReadServer) error {
	c := n.c
	name := string(so.GetStreamIdentifier().GetStreamName())
	c.mu.Lock()
	n.served++
	limit := c.limitLocked(n)
	var evs []*event
	st := c.streams[name]
	if st != nil {
		for _, e := range st.events {
			if e.idx < limit {
				evs = append(evs, e)
			}
		}
	}
	deleted := st != nil && st.deleted > 0 && st.deleted-1 < limit
	gate := c.readGate
	c.mu.Unlock()
	if gate != nil {
		gate(name)
	}
	if deleted {
		return streamDeleted(s.SetTrailer, name)
	}
	if len(evs) == 0 {
		return s.Send(&api.ReadResp{Content: &api.ReadResp_StreamNotFound_{StreamNotFound: &api.ReadResp_StreamNotFound{StreamIdentifier: so.GetStreamIdentifier()}}})
	}
	var idx []int
	back := o.GetReadDirection() == api.ReadReq_Options_Backwards
	switch r := so.GetRevisionOption().(type) {
	case *api.ReadReq_Options_StreamOptions_Start:
		if back {
			idx = rangeDown(0)
		} else {
			idx = rangeUp(0, len(evs))
		}
	case *api.ReadReq_Options_StreamOptions_End:
		if back {
			idx = rangeDown(len(evs) - 1)
		}
	case *api.ReadReq_Options_StreamOptions_Revision:
		if back {
			idx = rangeDown(int(min(r.Revision, uint64(len(evs)-1))))
		} else if r.Revision < uint64(len(evs)) {
			idx = rangeUp(int(r.Revision), len(evs))
		}
	}
	return sendAll(s, evs, idx, o.GetCount())
}

func (n *Node) readAll(o *api.ReadReq_Options, ao *api.ReadReq_Options_AllOptions, s api.Streams_ReadServer) error {
	c := n.c
	c.mu.Lock()
	evs := c.all[:c.limitLocked(n)]
	c.mu.Unlock()
	var idx []int
	back := o.GetReadDirection() == api.ReadReq_Options_Backwards
	switch p := ao.GetAllOption().(type) {
	case *api.ReadReq_Options_AllOptions_Start:
		if !back {
			idx = rangeUp(0, len(evs))
		}
	case *api.ReadReq_Options_AllOptions_End:
		if back {
			idx = rangeDown(len(evs) - 1)
		}
	case *api.ReadReq_Options_AllOptions_Position:
		pos := p.Position.GetCommitPosition()
		if back { // exclusive
			i := len(evs) - 1
			for i >= 0 && evs[i].pos >= pos {
				i--
			}
			idx = rangeDown(i)
		} else { // inclusive
			i := 0
			for i < len(evs) && evs[i].pos < pos {
				i++
			}
			idx = rangeUp(i, len(evs))
		}
	}
	return sendAll(s, evs, idx, o.GetCount())
}

func sendAll(s api.Streams_ReadServer, evs []*event, idx []int, count uint64) error {
	for k, i := range idx {
		if uint64(k) >= count {
			break
		}
		if err := s.Context().Err(); err != nil {
			return status.FromContextError(err).Err()
		}
		if err := s.Send(readResp(evs[i])); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) subscribeAll(o *api.ReadReq_Options, ao *api.ReadReq_Options_AllOptions, s api.Streams_ReadServer) error {
	c := n.c
	prefixes := o.GetFilter().GetStreamIdentifier().GetPrefix()
	match := func(e *event) bool {
		if len(prefixes) == 0 {
			return true
		}
		for _, p := range prefixes {
			if strings.HasPrefix(e.stream, p) {
				return true
			}
		}
		return false
	}
	c.mu.Lock()
	next := 0
	switch p := ao.GetAllOption().(type) {
	case *api.ReadReq_Options_AllOptions_End:
		next = c.limitLocked(n)
	case *api.ReadReq_Options_AllOptions_Position: // exclusive
		for next < len(c.all) && c.all[next].pos <= p.Position.GetCommitPosition() {
			next++
		}
	}
	c.mu.Unlock()
	c.subs.Add(1)
	defer c.subs.Add(-1)
	if err := s.Send(&api.ReadResp{Content: &api.ReadResp_Confirmation{Confirmation: &api.ReadResp_SubscriptionConfirmation{SubscriptionId: "fake"}}}); err != nil {
		return err
	}
	sent, considered, caughtUp := int64(0), 0, false
	for {
		c.mu.Lock()
		evs, changed := c.all[:c.limitLocked(n)], c.changed
		c.mu.Unlock()
		for ; next < len(evs); next++ {
			e := evs[next]
			considered++
			if match(e) {
				if err := s.Send(readResp(e)); err != nil {
					return err
				}
				sent++
				if d := c.dropEvery.Load(); d > 0 && sent >= d {
					c.drops.Add(1)
					return status.Error(codes.Unavailable, "fake: subscription dropped")
				}
			}
			if considered%4 == 0 {
				cp := &api.ReadResp_Checkpoint{CommitPosition: e.pos, PreparePosition: e.pos}
				if err := s.Send(&api.ReadResp{Content: &api.ReadResp_Checkpoint_{Checkpoint: cp}}); err != nil {
					return err
				}
			}
		}
		if !caughtUp {
			caughtUp = true
			if err := s.Send(&api.ReadResp{Content: &api.ReadResp_CaughtUp_{CaughtUp: &api.ReadResp_CaughtUp{}}}); err != nil {
				return err
			}
		}
		select {
		case <-s.Context().Done():
			return status.FromContextError(s.Context().Err()).Err()
		case <-changed:
		}
	}
}

func uuid(id [16]byte) *shared.UUID {
	return &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{
		MostSignificantBits:  int64(binary.BigEndian.Uint64(id[:8])),
		LeastSignificantBits: int64(binary.BigEndian.Uint64(id[8:])),
	}}}
}

func readResp(e *event) *api.ReadResp {
	return &api.ReadResp{Content: &api.ReadResp_Event{Event: &api.ReadResp_ReadEvent{
		Event: &api.ReadResp_ReadEvent_RecordedEvent{
			Id:               uuid(e.id),
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(e.stream)},
			StreamRevision:   e.rev,
			PreparePosition:  e.pos,
			CommitPosition:   e.pos,
			Metadata: map[string]string{
				"type":         e.typ,
				"content-type": "application/octet-stream",
				"created":      strconv.FormatInt(e.created.UnixNano()/100, 10),
			},
			CustomMetadata: e.meta,
			Data:           e.data,
		},
		Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: e.pos},
	}}}
}

func rangeUp(from, to int) []int {
	var r []int
	for i := from; i < to; i++ {
		r = append(r, i)
	}
	return r
}

func rangeDown(from int) []int {
	var r []int
	for i := from; i >= 0; i-- {
		r = append(r, i)
	}
	return r
}

// certificate creates a self-signed certificate for the nodes' host and
// writes it to a file for the connection string (tlsCAFile).
func (c *Cluster) certificate() (credentials.TransportCredentials, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "esdbtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
	}
	if ip := net.ParseIP(c.opts.Host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = append(tmpl.DNSNames, c.opts.Host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	if c.tmp, err = os.MkdirTemp("", "esdbtest-"); err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	c.caFile = filepath.Join(c.tmp, "ca.pem")
	if err := os.WriteFile(c.caFile, certPEM, 0o600); err != nil {
		return nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	if err != nil {
		return nil, err
	}
	return credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}

// Command standin stands in for the KurrentDB nodes of deploy/cluster in the
// deployment test (test/deploy), where no KurrentDB image can be pulled: the
// fake cluster of eventlog/esdb/esdbtest, one node on port 2113 that speaks
// the server's gRPC protocol, or an idle node that only answers its health
// check. It is for tests only: it keeps everything in memory.
//
//	standin serve --advertise kurrentdb-1   # a one-node cluster on 0.0.0.0:2113
//	standin idle                            # a node that does nothing
//	standin health [--idle]                 # exit 0 when port 2113 answers (always with --idle)
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/liaison-hub/liaison/eventlog/esdb/esdbtest"
)

const port = 2113

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: standin serve|idle|health")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	advertise := fs.String("advertise", "localhost", "the host name this node gives in gossip")
	idle := fs.Bool("idle", false, "health: the node is idle")
	_ = fs.Parse(os.Args[2:])
	switch os.Args[1] {
	case "serve":
		c, err := esdbtest.New(esdbtest.Options{Nodes: 1, Host: "0.0.0.0", Ports: []int{port}, Advertise: []string{*advertise}})
		if err != nil {
			fmt.Fprintln(os.Stderr, "standin:", err)
			os.Exit(1)
		}
		fmt.Printf("standin: a one-node cluster on :%d, advertised as %s\n", port, *advertise)
		wait()
		c.Close()
	case "idle":
		wait()
	case "health":
		if *idle {
			return
		}
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 2*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, "standin:", err)
			os.Exit(1)
		}
		conn.Close()
	default:
		fmt.Fprintln(os.Stderr, "usage: standin serve|idle|health")
		os.Exit(2)
	}
}

// wait returns on SIGTERM or SIGINT.
func wait() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
}

// Command app is the tiny HTTP server the driver conformance suite runs as an
// instance. It listens on $PORT and answers:
//
//	GET /              200 "ok"
//	GET /env?name=K    the value of environment variable K
//	GET /environ       the whole environment, one KEY=VALUE a line
//	GET /pid           the process id
//	GET /slow?d=1s     waits d, then 200 "done"
//	GET /inflight      how many /slow requests are being served
//	GET /log?msg=M     writes M as a line to stdout (to stderr with &stderr=1)
//	GET /spam?n=N&size=S  writes N numbered lines of about S bytes to stdout
//	GET /crash         answers, then exits with status 3
//	GET /file?path=P   the permissions of file P (octal), a newline, its content
//
// On SIGTERM it stops accepting connections and exits once in-flight
// requests are done, unless IGNORE_SIGTERM=1.
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "app:", err)
		os.Exit(1)
	}
}

func run() error {
	ln, err := net.Listen("tcp", ":"+os.Getenv("PORT"))
	if err != nil {
		return err
	}
	var inflight atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /env", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, os.Getenv(r.URL.Query().Get("name")))
	})
	mux.HandleFunc("GET /environ", func(w http.ResponseWriter, r *http.Request) {
		env := os.Environ()
		sort.Strings(env)
		fmt.Fprint(w, strings.Join(env, "\n"))
	})
	mux.HandleFunc("GET /pid", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, os.Getpid())
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		inflight.Add(1)
		defer inflight.Add(-1)
		d, err := time.ParseDuration(r.URL.Query().Get("d"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		time.Sleep(d)
		fmt.Fprint(w, "done")
	})
	mux.HandleFunc("GET /inflight", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, inflight.Load())
	})
	mux.HandleFunc("GET /log", func(w http.ResponseWriter, r *http.Request) {
		out := os.Stdout
		if r.URL.Query().Get("stderr") == "1" {
			out = os.Stderr
		}
		fmt.Fprintln(out, r.URL.Query().Get("msg"))
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /spam", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		size, _ := strconv.Atoi(r.URL.Query().Get("size"))
		prefix := r.URL.Query().Get("prefix")
		for i := range n {
			line := fmt.Sprintf("%s%06d ", prefix, i)
			if pad := size - len(line); pad > 0 {
				line += strings.Repeat("x", pad)
			}
			fmt.Fprintln(os.Stdout, line)
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("GET /file", func(w http.ResponseWriter, r *http.Request) {
		fi, err := os.Stat(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		raw, err := os.ReadFile(r.URL.Query().Get("path"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		fmt.Fprintf(w, "%#o\n%s", fi.Mode().Perm(), raw)
	})
	mux.HandleFunc("GET /crash", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "bye")
		w.(http.Flusher).Flush()
		go func() {
			time.Sleep(50 * time.Millisecond)
			os.Exit(3)
		}()
	})

	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Println("listening on", ln.Addr())

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	for draining := false; !draining; {
		select {
		case err := <-errc:
			return err
		case <-sigs:
			if os.Getenv("IGNORE_SIGTERM") == "1" {
				fmt.Println("ignoring SIGTERM")
				continue
			}
			draining = true
		}
	}
	fmt.Println("draining")
	if err := srv.Shutdown(context.Background()); err != nil {
		return err
	}
	fmt.Println("drained")
	return nil
}

// Command httpserver is a small net/http server for wasip1, written the standard way: it
// takes the listening socket the host hands over (`--tcplisten`, under wasmi, wasmtime or
// Cella) with net.FileListener(os.NewFile(3, ...)) and serves it with http.Serve. Go's
// wasip1 runtime is single-threaded: its goroutines share one thread and park in
// poll_oneoff, which works only because the host hands the listener over non-blocking.
//
// Hosts put the listener at fd 3, right after stdio; a Cella shell passes it on after its
// preopened directory "/", so the first fd from 3 on that is a socket is taken.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -o httpserver.wasm .
//
// Routes:
//
//	/hello        a plain-text greeting
//	/echo/ANY     the method, path and query of the request, as text
//	/json?name=N  a JSON object: the name, the request count so far, Go's version and OS
//	/sleep?ms=M   answers after M milliseconds (at most 10 s), other requests going on
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// firstFd is where hosts put the first --tcplisten socket: right after stdio.
const firstFd = 3

// lastFd ends the search for a listener: past it, none was handed over.
const lastFd = 64

// maxSleep bounds /sleep, so a client cannot hold a goroutine for long.
const maxSleep = 10 * time.Second

// requests counts the requests served, for /json.
var requests atomic.Int64

func hello(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintln(w, "Hello from Go on wasip1!")
}

func echo(w http.ResponseWriter, r *http.Request) {
	fmt.Fprintf(w, "%s %s\n", r.Method, r.URL.Path)
	if r.URL.RawQuery != "" {
		fmt.Fprintf(w, "query: %s\n", r.URL.RawQuery)
	}
}

// info is the body of /json.
type info struct {
	Name     string `json:"name"`
	Requests int64  `json:"requests"`
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
}

func jsonInfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(info{
		Name:     r.URL.Query().Get("name"),
		Requests: requests.Load(),
		Go:       runtime.Version(),
		OS:       runtime.GOOS,
		Arch:     runtime.GOARCH,
	})
}

func sleep(w http.ResponseWriter, r *http.Request) {
	ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
	if err != nil || ms < 0 {
		http.Error(w, "ms must be a number of milliseconds", http.StatusBadRequest)
		return
	}
	delay := min(time.Duration(ms)*time.Millisecond, maxSleep)
	time.Sleep(delay)
	fmt.Fprintf(w, "slept %d ms\n", delay.Milliseconds())
}

// counted counts each request before handing it to next.
func counted(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		next.ServeHTTP(w, r)
	})
}

// skipped keeps the files of the fds that were no listener: dropped, the garbage collector
// would close those fds (a preopened directory) behind the program's back.
var skipped []*os.File

// findListener returns the first listening socket from fd 3 on, and its fd. The search ends
// at the first closed fd.
func findListener() (net.Listener, uintptr, error) {
	for fd := uintptr(firstFd); fd <= lastFd; fd++ {
		file := os.NewFile(fd, "listener")
		listener, err := net.FileListener(file)
		if err == nil {
			return listener, fd, nil
		}
		skipped = append(skipped, file)
		if errors.Is(err, syscall.EBADF) {
			break
		}
	}
	return nil, 0, errors.New("no listening socket among the fds from 3 on: run with --tcplisten IP:PORT")
}

func main() {
	listener, fd, err := findListener()
	if err != nil {
		fmt.Fprintf(os.Stderr, "httpserver: %v\n", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", hello)
	mux.HandleFunc("/echo/", echo)
	mux.HandleFunc("/json", jsonInfo)
	mux.HandleFunc("/sleep", sleep)
	fmt.Fprintf(os.Stderr, "httpserver: serving the listener at fd %d\n", fd)
	err = http.Serve(listener, counted(mux))
	fmt.Fprintf(os.Stderr, "httpserver: %v\n", err)
	os.Exit(1)
}

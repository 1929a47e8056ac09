package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// bareHub is the leanest fan-out there is: a map of topics to buffered channels under one lock,
// non-blocking sends.
type bareHub struct {
	mu   sync.RWMutex
	subs map[string]map[chan []byte]struct{}
}

func (h *bareHub) subscribe(topic string) chan []byte {
	c := make(chan []byte, 4)
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.subs[topic]
	if m == nil {
		m = map[chan []byte]struct{}{}
		h.subs[topic] = m
	}
	m[c] = struct{}{}
	return c
}

func (h *bareHub) unsubscribe(topic string, c chan []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs[topic], c)
	if len(h.subs[topic]) == 0 {
		delete(h.subs, topic)
	}
}

func (h *bareHub) publishAll(msg []byte) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, m := range h.subs {
		for c := range m {
			select {
			case c <- msg:
				n++
			default:
			}
		}
	}
	return n
}

func (h *bareHub) publish(topic string, msg []byte) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for c := range h.subs[topic] {
		select {
		case c <- msg:
			n++
		default:
		}
	}
	return n
}

// serveBare is the hidden `child-bare` subcommand: the baseline for fan-out and stream memory.
// One echo v4 handler streams a topic; POST /publish/:topic sends one event of payload bytes to
// every stream of the topic. Same server timeouts as the app, nothing else.
func serveBare(args []string) error {
	ctx, stop, pinned, err := childStart(flag.NewFlagSet("child-bare", flag.ContinueOnError), args)
	if err != nil {
		return err
	}
	defer stop()

	hub := &bareHub{subs: map[string]map[chan []byte]struct{}{}}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/events/:topic", func(c echo.Context) error {
		ch := hub.subscribe(c.Param("topic"))
		defer hub.unsubscribe(c.Param("topic"), ch)
		w := c.Response()
		if err := http.NewResponseController(w).SetWriteDeadline(time.Time{}); err != nil {
			return err
		}
		w.Header().Set(echo.HeaderContentType, "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "event: hello\ndata: subscribed\n\n")
		w.Flush()
		done := c.Request().Context().Done()
		for {
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return nil
			case msg := <-ch:
				if _, err := w.Write(msg); err != nil {
					return nil
				}
				w.Flush()
			}
		}
	})
	event := func(c echo.Context) []byte {
		size, _ := strconv.Atoi(c.QueryParam("size"))
		size = min(max(size, 1), 64<<10)
		msg := make([]byte, 0, size+32)
		msg = append(msg, "event: msg\ndata: "...)
		msg = append(msg, strings.Repeat("x", size)...)
		return append(msg, "\n\n"...)
	}
	e.POST("/publish/:topic", func(c echo.Context) error {
		return c.String(http.StatusOK, strconv.Itoa(hub.publish(c.Param("topic"), event(c))))
	})
	e.POST("/broadcast", func(c echo.Context) error {
		return c.String(http.StatusOK, strconv.Itoa(hub.publishAll(event(c))))
	})
	e.GET("/bench/mem", echo.WrapHandler(http.HandlerFunc(memStats)))
	e.POST("/bench/gc", echo.WrapHandler(http.HandlerFunc(gcMemStats)))
	e.GET("/debug/pprof/heap", echo.WrapHandler(pprof.Handler("heap")))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	go srv.Serve(ln)
	line, _ := json.Marshal(childInfo{PID: os.Getpid(), URL: "http://" + ln.Addr().String(),
		GOMAXPROCS: runtime.GOMAXPROCS(0), CPUs: pinned})
	fmt.Println(string(line))
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	return nil
}

package main

import (
	"context"
	"fmt"
	"math"
	"os/exec"
	"slices"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// phoneResult is the customer's first second on an emulated mid-range phone: the payment
// page's bytes over the wire and its first contentful paint, the median of a few cold loads.
type phoneResult struct {
	Loads        int      `json:"loads"`
	Bytes        int64    `json:"bytes"`         // every response that completed (the event stream stays open and is not counted)
	BytesPlain   int64    `json:"bytes_plain"`   // the same page asked for without compression, as the baseline
	FCPms        float64  `json:"fcp_ms"`        // first contentful paint, from the navigation's start
	FCPPlainms   float64  `json:"fcp_plain_ms"`  // the same without compression
	Requests     []string `json:"requests"`      // what one load fetched
	RTTms        float64  `json:"rtt_ms"`        // emulated network
	DownKbps     float64  `json:"down_kbps"`     //
	UpKbps       float64  `json:"up_kbps"`       //
	CPUSlowdown  float64  `json:"cpu_slowdown"`  // Chromium's CPU throttling
	ViewportSize string   `json:"viewport_size"` //
}

// Slow 4G as Chromium's DevTools define it, and their mid-range phone's 4× CPU slowdown.
const (
	phoneRTT      = 150.0
	phoneDownKbps = 1600.0
	phoneUpKbps   = 750.0
	phoneCPU      = 4.0
	phoneLoads    = 3
)

// phone loads url (a payment page) in headless Chromium as a phone on slow 4G would, with an
// empty cache each time, compressed and then not, and returns the medians.
func (b *bench) phone(ctx context.Context, url string) (*phoneResult, error) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		return nil, fmt.Errorf("no chromium to load the payment page with: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	r := &phoneResult{RTTms: phoneRTT, DownKbps: phoneDownKbps, UpKbps: phoneUpKbps, CPUSlowdown: phoneCPU,
		ViewportSize: "390×844, mobile", Loads: phoneLoads}
	for _, plain := range []bool{false, true} {
		var bytes []int64
		var fcps []float64
		for range phoneLoads {
			n, fcp, reqs, err := phoneLoad(actx, url, plain)
			if err != nil {
				return r, err
			}
			bytes, fcps = append(bytes, n), append(fcps, fcp)
			if !plain {
				r.Requests = reqs
			}
		}
		slices.Sort(bytes)
		slices.Sort(fcps)
		if plain {
			r.BytesPlain, r.FCPPlainms = bytes[len(bytes)/2], fcps[len(fcps)/2]
		} else {
			r.Bytes, r.FCPms = bytes[len(bytes)/2], fcps[len(fcps)/2]
		}
	}
	return r, nil
}

// phoneLoad opens url once in a fresh tab and returns the bytes received for every response
// that completed, the first contentful paint in ms, and the URLs fetched.
func phoneLoad(actx context.Context, url string, plain bool) (int64, float64, []string, error) {
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	var mu sync.Mutex
	var total int64
	var reqs []string
	chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventLoadingFinished:
			total += int64(e.EncodedDataLength)
		case *network.EventRequestWillBeSent:
			reqs = append(reqs, e.Request.URL)
		}
	})
	headers := network.Headers{}
	if plain {
		headers["Accept-Encoding"] = "identity"
	}
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch),
		func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
				return chromedp.Void{}, err
			}
			if _, err := cdp.Call(ctx, tg, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
				return chromedp.Void{}, err
			}
			if _, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: headers}); err != nil {
				return chromedp.Void{}, err
			}
			if _, err := cdp.Call(ctx, tg, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
				MatchedNetworkConditions: []*network.Conditions{{Latency: phoneRTT,
					DownloadThroughput: phoneDownKbps * 1000 / 8, UploadThroughput: phoneUpKbps * 1000 / 8}},
			}); err != nil {
				return chromedp.Void{}, err
			}
			_, err := cdp.Call(ctx, tg, emulation.SetCPUThrottlingRate, emulation.SetCPUThrottlingRateParams{Rate: phoneCPU})
			return chromedp.Void{}, err
		},
		chromedp.Navigate(url),
	)
	if err != nil {
		return 0, 0, nil, err
	}
	// Paint entries are recorded by the time the load event has fired; the wait lets late
	// responses (the favicon) finish.
	fcp, err := chromedp.Run(ctx, chromedp.Poll[float64](`(function () {
		var e = performance.getEntriesByName("first-contentful-paint")[0];
		return document.readyState === "complete" && e ? e.startTime : 0;
	})()`, chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		return 0, 0, nil, fmt.Errorf("first contentful paint: %w", err)
	}
	time.Sleep(time.Second)
	mu.Lock()
	defer mu.Unlock()
	return total, math.Round(fcp), slices.Clone(reqs), nil
}

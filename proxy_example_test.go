package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// nginxBlock is one block of an nginx configuration: its directives, and its inner blocks.
type nginxBlock struct {
	name       string // "server", "location ~ ^/…$", "" for the top level
	directives [][]string
	blocks     []*nginxBlock
}

// parseNginx reads the simple configurations of our documentation: directives end with ';',
// blocks are '{ … }', '#' starts a comment. Quotes are kept as part of words.
func parseNginx(t *testing.T, src string) *nginxBlock {
	t.Helper()
	var lines []string
	for _, l := range strings.Split(src, "\n") {
		if i := strings.Index(l, "#"); i >= 0 {
			l = l[:i]
		}
		lines = append(lines, l)
	}
	text := strings.Join(lines, "\n")
	root := &nginxBlock{}
	stack := []*nginxBlock{root}
	var word strings.Builder
	for _, r := range text {
		cur := stack[len(stack)-1]
		switch r {
		case ';':
			cur.directives = append(cur.directives, strings.Fields(word.String()))
			word.Reset()
		case '{':
			b := &nginxBlock{name: strings.Join(strings.Fields(word.String()), " ")}
			word.Reset()
			cur.blocks = append(cur.blocks, b)
			stack = append(stack, b)
		case '}':
			if len(stack) == 1 {
				t.Fatal("nginx example: unbalanced }")
			}
			stack = stack[:len(stack)-1]
		default:
			word.WriteRune(r)
		}
	}
	if len(stack) != 1 || strings.TrimSpace(word.String()) != "" {
		t.Fatal("nginx example: unbalanced { or a directive without ;")
	}
	return root
}

// headers returns the proxy_set_header names a block sets itself.
func (b *nginxBlock) headers() map[string]bool {
	h := map[string]bool{}
	for _, d := range b.directives {
		if len(d) >= 2 && d[0] == "proxy_set_header" {
			h[strings.ToLower(d[1])] = true
		}
	}
	return h
}

func (b *nginxBlock) has(directive string) bool {
	for _, d := range b.directives {
		if len(d) > 0 && d[0] == directive {
			return true
		}
	}
	return false
}

// Every proxy example in the documentation passes the client's address on to the app, in every
// location that proxies (nginx gives a location that sets any header none of its server's), and
// says beside it that the app must be told to believe it (CHECKOUT_TRUSTED_PROXIES). Without
// that, every client shares the proxy's address: one stranger's failed sign-ins lock out all.
func TestProxyExampleForwardsTheClientAddress(t *testing.T) {
	docs, _ := filepath.Glob("docs/*.md")
	found := 0
	for _, file := range append([]string{"README.md"}, docs...) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		for _, m := range regexp.MustCompile("(?s)```nginx\n(.*?)```").FindAllStringSubmatchIndex(text, -1) {
			found++
			conf := text[m[2]:m[3]]
			after := text[m[1]:min(len(text), m[1]+800)]
			if !strings.Contains(conf+after, "CHECKOUT_TRUSTED_PROXIES") {
				t.Errorf("%s: the nginx example does not say, in it or just after it, to set CHECKOUT_TRUSTED_PROXIES", file)
			}
			var walk func(b *nginxBlock, inherited map[string]bool)
			walk = func(b *nginxBlock, inherited map[string]bool) {
				h := b.headers()
				if len(h) == 0 {
					h = inherited
				}
				if b.has("proxy_pass") {
					for _, want := range []string{"x-forwarded-for", "host"} {
						if !h[want] {
							t.Errorf("%s: nginx %q proxies without setting %s", file, b.name, want)
						}
					}
				}
				for _, c := range b.blocks {
					walk(c, h)
				}
			}
			walk(parseNginx(t, conf), map[string]bool{})
		}
	}
	if found == 0 {
		t.Fatal("no nginx example found in README.md or docs/*.md")
	}
}

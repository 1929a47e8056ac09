package apptest

import (
	"strings"

	"golang.org/x/net/html"
)

// Attr parses an HTML document or fragment and returns attribute attr of the first element
// whose data-testid is testID, and whether there was one.
func Attr(doc, testID, attr string) (string, bool) {
	n := Find(doc, testID)
	if n == nil {
		return "", false
	}
	for _, a := range n.Attr {
		if a.Key == attr {
			return a.Val, true
		}
	}
	return "", false
}

// Text returns the text content of the first element whose data-testid is testID.
func Text(doc, testID string) string {
	n := Find(doc, testID)
	if n == nil {
		return ""
	}
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// Find returns the first element of doc whose data-testid is testID, or nil.
func Find(doc, testID string) *html.Node {
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		return nil
	}
	var found *html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if found != nil {
			return
		}
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				if a.Key == "data-testid" && a.Val == testID {
					found = n
					return
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return found
}

// Count returns how many elements of doc have data-testid testID.
func Count(doc, testID string) int {
	root, err := html.Parse(strings.NewReader(doc))
	if err != nil {
		return 0
	}
	n := 0
	var walk func(*html.Node)
	walk = func(x *html.Node) {
		if x.Type == html.ElementNode {
			for _, a := range x.Attr {
				if a.Key == "data-testid" && a.Val == testID {
					n++
				}
			}
		}
		for c := x.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	return n
}

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The pictures of docs/slack.md: the messages docs/slack/*.json keep (the
// very messages the app sends; notify/slack's tests hold them to it), laid
// out the way Slack's client lays out Block Kit, in headless Chromium.
// make screenshots writes them to docs/slack/*.png.

// docSlackMessages are the messages the docs show, in the order of an
// alert's life.
var docSlackMessages = []struct{ name, caption string }{
	{"opened", "the alert opens: one message, with its buttons"},
	{"reminder-reply", "a reminder, in the message's thread"},
	{"snoozed", "after Snooze 1 h: the same message, updated"},
	{"escalated-reply", "an escalation, in the thread"},
	{"acknowledged", "after Acknowledge"},
	{"resolved", "resolved: how long the branch was red, no buttons"},
}

type blockKitText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type blockKitBlock struct {
	Type     string            `json:"type"`
	Text     *blockKitText     `json:"text"`
	Elements []json.RawMessage `json:"elements"`
}

type blockKitButton struct {
	Text  blockKitText `json:"text"`
	Style string       `json:"style"`
}

var (
	mrkdwnAngle = regexp.MustCompile(`<([^<>]*)>`)
	mrkdwnBold  = regexp.MustCompile(`\*([^*\n]+)\*`)
	mrkdwnEmoji = map[string]string{
		":red_circle:":          `<span class="dot" style="background:#dd2e44"></span>`,
		":large_orange_circle:": `<span class="dot" style="background:#f4900c"></span>`,
		":large_yellow_circle:": `<span class="dot" style="background:#fdcb58"></span>`,
		":white_circle:":        `<span class="dot" style="background:#e6e7e8"></span>`,
		":white_check_mark:":    `<span class="check">✔</span>`,
		":warning:":             `<span class="warn">!</span>`,
	}
)

// mrkdwnHTML renders Slack mrkdwn as Slack shows it: links as their label,
// dates as their fallback, *bold*, emoji. The text comes escaped for Slack
// (&amp; &lt; &gt;), which is escaped for HTML too.
func mrkdwnHTML(s string) string {
	s = mrkdwnAngle.ReplaceAllStringFunc(s, func(m string) string {
		inner := m[1 : len(m)-1]
		target, label, hasLabel := strings.Cut(inner, "|")
		if strings.HasPrefix(target, "!date^") {
			return label
		}
		if !hasLabel {
			label = target
		}
		return `<a href="` + html.EscapeString(target) + `">` + label + `</a>`
	})
	s = mrkdwnBold.ReplaceAllString(s, "<b>$1</b>")
	for code, h := range mrkdwnEmoji {
		s = strings.ReplaceAll(s, code, h)
	}
	return strings.ReplaceAll(s, "\n", "<br>")
}

const blockKitCSS = `
body { font-family: "DejaVu Sans", Lato, sans-serif; font-size: 15px; color: #1d1c1d; background: #fff; margin: 0; }
.msg { display: flex; gap: 8px; padding: 8px 20px 10px; width: 620px; background: #fff; }
.avatar { width: 36px; height: 36px; border-radius: 4px; background: #4a154b; color: #fff; font-weight: bold;
  display: flex; align-items: center; justify-content: center; font-size: 13px; flex: none; }
.head { margin-bottom: 2px; } .name { font-weight: 900; } .app { font-size: 10px; background: #e8e8e8; color: #616061;
  padding: 1px 3px; border-radius: 2px; margin: 0 4px; } .time { color: #616061; font-size: 12px; }
.thread { color: #616061; font-size: 12px; margin-bottom: 4px; }
.section { margin: 2px 0 6px; line-height: 22px; } .context { color: #616061; font-size: 12px; margin: 4px 0 8px; }
a { color: #1264a3; text-decoration: none; }
.dot { display: inline-block; width: 14px; height: 14px; border-radius: 50%; vertical-align: -2px; }
.check { display: inline-block; width: 16px; height: 16px; background: #77b255; color: #fff; border-radius: 3px;
  font-size: 12px; text-align: center; line-height: 16px; } .warn { color: #f4900c; font-weight: bold; }
.actions { display: flex; gap: 8px; margin: 4px 0; }
button { font: bold 14px "DejaVu Sans", Lato, sans-serif; height: 32px; padding: 0 12px; border-radius: 4px;
  border: 1px solid #bbbabb; background: #fff; color: #1d1c1d; }
button.primary { background: #007a5a; border-color: #007a5a; color: #fff; } button.danger { color: #e01e5a; }
`

// blockKitHTML lays out one message.
func blockKitHTML(t *testing.T, id string, reply bool, raw []byte) string {
	t.Helper()
	var m struct {
		Blocks []blockKitBlock `json:"blocks"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<div class="msg" id="%s"><div class="avatar">af</div><div>`, id)
	if reply {
		b.WriteString(`<div class="thread">replied in the alert's thread</div>`)
	}
	b.WriteString(`<div class="head"><span class="name">alertflow</span><span class="app">APP</span><span class="time">16:02</span></div>`)
	for _, bl := range m.Blocks {
		switch bl.Type {
		case "section":
			fmt.Fprintf(&b, `<div class="section">%s</div>`, mrkdwnHTML(bl.Text.Text))
		case "context":
			var parts []string
			for _, e := range bl.Elements {
				var txt blockKitText
				if err := json.Unmarshal(e, &txt); err != nil {
					t.Fatal(err)
				}
				parts = append(parts, mrkdwnHTML(txt.Text))
			}
			fmt.Fprintf(&b, `<div class="context">%s</div>`, strings.Join(parts, " "))
		case "actions":
			b.WriteString(`<div class="actions">`)
			for _, e := range bl.Elements {
				var btn blockKitButton
				if err := json.Unmarshal(e, &btn); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&b, `<button class="%s">%s</button>`, btn.Style, html.EscapeString(btn.Text.Text))
			}
			b.WriteString(`</div>`)
		default:
			t.Fatalf("%s: a %q block the pictures cannot draw", id, bl.Type)
		}
	}
	b.WriteString(`</div></div>`)
	return b.String()
}

// TestSlackMessagesArePicturedAsBlockKitLaysThemOut draws every message
// of docs/slack/ and checks each shows its words; with
// ALERTFLOW_UPDATE_SCREENSHOT set it writes the pictures the docs show.
func TestSlackMessagesArePicturedAsBlockKitLaysThemOut(t *testing.T) {
	browser := chromium(t)
	var page strings.Builder
	page.WriteString(`<!doctype html><html><head><meta charset="utf-8"><style>` + blockKitCSS + `</style></head><body>`)
	want := map[string]string{}
	for _, m := range docSlackMessages {
		raw, err := os.ReadFile(filepath.Join("..", "docs", "slack", m.name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		page.WriteString(blockKitHTML(t, m.name, strings.HasSuffix(m.name, "-reply"), raw))
		var msg struct {
			Blocks []blockKitBlock `json:"blocks"`
		}
		_ = json.Unmarshal(raw, &msg)
		// The first section's bold words are what a reader sees first.
		if bold := mrkdwnBold.FindStringSubmatch(msg.Blocks[0].Text.Text); bold != nil {
			want[m.name] = bold[1]
		}
	}
	page.WriteString(`</body></html>`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page.String()))
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bctx := headless(ctx, t, browser, 700, 1600)
	if err := chromedp.Do(bctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	for _, m := range docSlackMessages {
		text, err := chromedp.Run(bctx, chromedp.Text(chromedp.ID(m.name)))
		if err != nil {
			t.Fatal(err)
		}
		if w := want[m.name]; w != "" && !strings.Contains(text, w) {
			t.Errorf("%s shows %q, without %q", m.name, text, w)
		}
		if strings.Contains(text, "<!date") || strings.Contains(text, "*") {
			t.Errorf("%s shows mrkdwn unrendered: %q", m.name, text)
		}
		shot, err := chromedp.Run(bctx, chromedp.ScreenshotScale(chromedp.ID(m.name), 1))
		if err != nil {
			t.Fatalf("picture of %s: %v", m.name, err)
		}
		saveScreenshot(t, filepath.Join("slack", m.name+".png"), shot)
	}
}

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/internal/testkit"
	"github.com/alertflow/alertflow/worker"
)

// chromium finds Debian's Chromium; make test installs it where it can.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv("ALERTFLOW_TEST_CHROMIUM"), "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no chromium: install Debian's chromium package (make test does, as root) to run the Web UI browser test"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestTheWebUIShowsAnOpenHighAlert opens the Temporal Web UI in headless
// Chromium, filters by AlertSeverity="HIGH" as an on-call engineer would,
// and checks the alert is listed and its page shows the summary.
func TestTheWebUIShowsAnOpenHighAlert(t *testing.T) {
	requireServer(t)
	browser := chromium(t)

	// A server of the test's own, with the Web UI the shared one lacks.
	uiPort := strings.TrimPrefix(testkit.FreeAddr(), "127.0.0.1:")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{
		ExistingPath:  temporalBin,
		ClientOptions: &client.Options{HostPort: testkit.FreeAddr(), Logger: quietLogger()},
		EnableUI:      true,
		UIPort:        uiPort,
		LogLevel:      "error",
		Stdout:        io.Discard,
		Stderr:        io.Discard,
	})
	if err != nil {
		t.Fatalf("start dev server with UI: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	c := srv.Client()
	if err := worker.EnsureSearchAttributes(ctx, c, "default"); err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, client: c, taskQueue: "browser"}
	discard := slog.New(slog.DiscardHandler)
	s.worker = worker.New(c, s.taskQueue, activities.NewSinks(discard, nil, nil), nil, discard)
	if err := s.worker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stopWorker)
	tokens, _ := ingress.ParseTokens("gitlab=" + sourceToken)
	s.http = httptest.NewServer(ingress.New(ingress.Config{TaskQueue: s.taskQueue, Tokens: tokens}, c, discard))
	t.Cleanup(s.http.Close)

	// The shared docs payload, failed: the alert the README walks through.
	body := payload(t, 1, "master", 31, "failed")
	if err := poll(ctx, 30*time.Second, func() error {
		if a := s.post(body); a.Action != ingress.ActionSignaled {
			return fmt.Errorf("answered %d %+v", a.code, a)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	st := s.waitState("1-master", isOpen)
	summary := st.Title()

	bctx := headless(ctx, t, browser, 1600, 900)

	ui := "http://127.0.0.1:" + uiPort
	list := ui + "/namespaces/default/workflows?query=" + url.QueryEscape(`AlertSeverity="HIGH"`)
	link := chromedp.CSS(`a[href^="/namespaces/default/workflows/1-master/"]`)
	if err := chromedp.Do(bctx, chromedp.Navigate(list), chromedp.WaitVisible(link)); err != nil {
		t.Fatalf("the alert is not listed at %s: %v", list, err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.Click(link)); err != nil {
		t.Fatal(err)
	}
	// The page renders in steps: read it until the summary shows.
	var page string
	err = poll(ctx, 30*time.Second, func() error {
		text, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("body")))
		if err != nil {
			return err
		}
		page = text
		if !strings.Contains(page, summary) {
			return fmt.Errorf("no %q on the page yet", summary)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the alert's page: %v", err)
	}
	if !strings.Contains(page, summary) || !strings.Contains(page, "AlertWorkflow") {
		t.Fatalf("the alert's page lacks %q", summary)
	}
	saveScreenshot(t, "webui-alerts.png", shot)
	// The summary and the markdown details live under "User Metadata".
	if err := chromedp.Do(bctx, chromedp.Click(`//*[self::a or self::button][contains(normalize-space(.), 'User Metadata')]`)); err != nil {
		t.Fatalf("open User Metadata: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.WaitVisible(`//*[contains(normalize-space(.), 'Failed jobs')]`)); err != nil {
		t.Fatalf("the alert's details are not shown: %v", err)
	}
	details, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	saveScreenshot(t, "webui-alert-details.png", details)

	checkPayloadMarkdownIsText(ctx, t, s, bctx, ui)
}

// checkPayloadMarkdownIsText opens the summary and details of an alert
// whose ref holds underscores, whose commit title is markdown with a
// javascript: link and HTML, and whose commit URL is a javascript: one: the
// page shows them as text and links nowhere but http(s).
func checkPayloadMarkdownIsText(ctx context.Context, t *testing.T, s *stack, bctx context.Context, ui string) {
	t.Helper()
	const title = "[click me](javascript:alert(1)) <b>bold-html</b> **not bold**"
	body := payload(t, 1, "mark_down_x", 32, "failed")
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	m["commit"].(map[string]any)["title"] = title
	m["commit"].(map[string]any)["url"] = "javascript:alert(2)"
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if a := s.post(body); a.Action != ingress.ActionSignaled {
		t.Fatalf("answered %d %+v", a.code, a)
	}
	s.waitState("1-mark_down_x", isOpen)
	list := ui + "/namespaces/default/workflows?query=" + url.QueryEscape(`WorkflowId="1-mark_down_x"`)
	link := chromedp.CSS(`a[href^="/namespaces/default/workflows/1-mark_down_x/"]`)
	if err := chromedp.Do(bctx, chromedp.Navigate(list), chromedp.WaitVisible(link), chromedp.Click(link)); err != nil {
		t.Fatalf("the markdown alert's page: %v", err)
	}
	if err := chromedp.Do(bctx, chromedp.Click(`//*[self::a or self::button][contains(normalize-space(.), 'User Metadata')]`),
		chromedp.WaitVisible(`//*[contains(normalize-space(.), 'Failed jobs')]`)); err != nil {
		t.Fatalf("the markdown alert's details are not shown: %v", err)
	}
	// The UI renders markdown in frames of its own origin.
	const frames = `[...document.querySelectorAll('iframe')].map(f => f.contentDocument && f.contentDocument.body)`
	var text string
	var scriptLinks, boldHTML int
	err = poll(ctx, 30*time.Second, func() error {
		var err error
		if text, err = chromedp.Run(bctx, chromedp.Evaluate[string](frames+`.map(b => b ? b.innerText : '').join('\n')`)); err != nil {
			return err
		}
		if scriptLinks, err = chromedp.Run(bctx, chromedp.Evaluate[int](`[document.body, ...`+frames+`].filter(b => b).flatMap(b => [...b.querySelectorAll('a')]).filter(a => !/^https?:/i.test(a.href)).length`)); err != nil {
			return err
		}
		if boldHTML, err = chromedp.Run(bctx, chromedp.Evaluate[int](frames+`.filter(b => b).flatMap(b => [...b.querySelectorAll('b, strong')]).filter(e => /bold-html|not bold/.test(e.textContent)).length`)); err != nil {
			return err
		}
		if !strings.Contains(text, title) {
			return fmt.Errorf("the commit title %q is not shown as text in the details: %q", title, text)
		}
		// The summary is markdown too: the ref's underscores show as typed.
		if !strings.Contains(text, "Pipeline #32 failed on acme/api@mark_down_x") {
			return fmt.Errorf("the summary is not shown as typed: %q", text)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scriptLinks != 0 || boldHTML != 0 {
		t.Fatalf("the page renders %d javascript: links and %d bold elements from the payload", scriptLinks, boldHTML)
	}
}

// headless starts Chromium at browser, headless with a window of width by
// height, for as long as the test runs.
func headless(ctx context.Context, t *testing.T, browser string, width, height int) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(width, height),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	return bctx
}

// saveScreenshot keeps a page's picture: in docs/ for the README when
// ALERTFLOW_UPDATE_SCREENSHOT is set (make screenshots), else in the
// test's temporary directory.
func saveScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if os.Getenv("ALERTFLOW_UPDATE_SCREENSHOT") != "" {
		path = filepath.Join("..", "docs", name)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

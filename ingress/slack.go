package ingress

// Slack as the on-call console: the buttons of the app's messages and the
// /alertflow command, verified with the app's signing secret and applied
// through the same updates as the REST API.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alertflow/alertflow/alert"
	"github.com/alertflow/alertflow/notify/slack"
	"github.com/alertflow/alertflow/silence"
	"github.com/alertflow/alertflow/workflows"
)

// slackBudget is how long an action may take: Slack shows the user an
// error when an answer takes more than 3 seconds.
const slackBudget = 2500 * time.Millisecond

// maxSlackBody bounds what Slack posts: an interaction payload carries
// the message it came from, a few kilobytes.
const maxSlackBody = 256 << 10

// routeSlack serves Slack's requests when the app's signing secret is set.
func (s *Server) routeSlack() {
	if len(s.cfg.SlackSigningSecret) == 0 {
		return
	}
	s.router.HandleFunc("/slack/interactions", s.slackInteraction).Methods(http.MethodPost)
	s.router.HandleFunc("/slack/commands", s.slackCommand).Methods(http.MethodPost)
}

// slackBody reads and verifies a request from Slack; it answers 4xx and
// returns false when the request is not Slack's.
func (s *Server) slackBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSlackBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("a Slack request is at most %d bytes", maxSlackBody))
		return nil, false
	}
	if err := slack.Verify(s.cfg.SlackSigningSecret, r.Header, body, time.Now()); err != nil {
		s.metrics.slack("refused")
		s.logger.WarnContext(r.Context(), "Slack request refused", "request_id", RequestID(r.Context()), "error", err)
		writeError(w, http.StatusUnauthorized, "", "not a request signed by Slack: "+err.Error())
		return nil, false
	}
	return body, true
}

// slackInteraction applies a pressed button. Slack needs a 200 within 3
// seconds and shows nothing of its body; the alert's message changes when
// the workflow notifies the app, and a failure is told to the user alone
// through the interaction's response_url.
func (s *Server) slackInteraction(w http.ResponseWriter, r *http.Request) {
	body, ok := s.slackBody(w, r)
	if !ok {
		return
	}
	in, err := slack.ParseInteraction(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "payload", err.Error())
		return
	}
	if in.Type != "block_actions" || len(in.Actions) == 0 {
		w.WriteHeader(http.StatusOK)
		return
	}
	a := in.Actions[0]
	by := slack.Who(in.User, s.cfg.SlackPeople)
	name, arg, ok := slackAction(a.ActionID, by)
	if !ok {
		// Not one of alertflow's buttons: nothing to do.
		w.WriteHeader(http.StatusOK)
		return
	}
	text := s.slackApply(r, a.Value, name, arg, by)
	w.WriteHeader(http.StatusOK)
	if text != "" && in.ResponseURL != "" {
		s.tellSlackUser(in.ResponseURL, text)
	}
}

// slackAction maps a button to its update.
func slackAction(actionID, by string) (name string, arg any, ok bool) {
	switch actionID {
	case slack.ActionAcknowledge:
		return workflows.UpdateAcknowledge, alert.Acknowledgement{By: by, Note: "from Slack"}, true
	case slack.ActionSnooze1h:
		return workflows.UpdateSnooze, alert.SnoozeRequest{By: by, For: "1h", Note: "from Slack"}, true
	case slack.ActionSnooze4h:
		return workflows.UpdateSnooze, alert.SnoozeRequest{By: by, For: "4h", Note: "from Slack"}, true
	case slack.ActionResolve:
		return workflows.UpdateResolve, alert.Resolution{By: by, Reason: "resolved from Slack"}, true
	}
	return "", nil, false
}

// slackApply runs an action on alert rawID for a Slack user and returns
// what to tell them when it did not apply, "" when it did.
func (s *Server) slackApply(r *http.Request, rawID, name string, arg any, by string) string {
	id, err := checkAlertID(rawID)
	if err != nil {
		return "alertflow cannot " + name + " " + rawID + ": " + err.Error()
	}
	if _, err := checkActionText(arg); err != nil {
		return "alertflow cannot " + name + " " + id + ": " + err.Error()
	}
	ctx, cancel := context.WithTimeout(r.Context(), slackBudget)
	defer cancel()
	out := s.runUpdate(ctx, id, name, arg)
	setLogAttrs(r, "alert_id", id)
	s.logger.InfoContext(r.Context(), "Slack action", "action", name, "alert_id", id, "by", by, "status", out.status,
		"request_id", RequestID(r.Context()))
	switch {
	case out.err != nil:
		s.metrics.slack("unavailable")
		s.metrics.temporalError("update_" + name)
		s.logger.ErrorContext(r.Context(), "temporal call failed", "operation", "update_"+name, "alert_id", id,
			"request_id", RequestID(r.Context()), "error", out.err)
		return "alertflow could not reach Temporal in time to " + name + " " + id + "; it may still apply: look at the alert before trying again"
	case out.status == http.StatusOK:
		s.metrics.slack("applied")
		return ""
	default:
		s.metrics.slack("rejected")
		return "alertflow cannot " + name + " " + id + ": " + out.msg
	}
}

// maxSlackTells bounds the answers to Slack users on their way at once:
// each is a goroutine and a connection for up to 5 s.
const maxSlackTells = 8

// tellSlackUser posts text to a response_url, seen by the user alone. It
// runs after the answer, at most maxSlackTells at once (past that the
// user is not told, and the log says so); the URL is a credential and is
// never logged.
func (s *Server) tellSlackUser(responseURL, text string) {
	if u, err := url.Parse(responseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return
	}
	select {
	case s.slackTells <- struct{}{}:
	default:
		s.logger.Warn("Too many answers to Slack users on their way: this one is not told why their action failed", "limit", maxSlackTells)
		return
	}
	body, _ := json.Marshal(map[string]any{"response_type": "ephemeral", "replace_original": false, "text": text})
	go func() {
		defer func() { <-s.slackTells }()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, responseURL, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := s.cfg.SlackClient.Do(req)
		if err != nil {
			s.logger.Warn("Could not tell a Slack user why their action failed", "error", errors.Unwrap(err))
			return
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
	}()
}

// slackCommandHelp is what /alertflow answers when it is not understood.
const slackCommandHelp = "Usage: /alertflow ack <alert id> [note] · /alertflow snooze <alert id> <duration> [note] · /alertflow resolve <alert id> [reason] · /alertflow silence <matcher=value>... <duration> <comment>, such as /alertflow silence project=team-a/* ref=main 2h runner migration"

// slackCommand runs /alertflow ack|snooze|resolve and answers the user
// alone, in the HTTP answer, as slash commands allow.
func (s *Server) slackCommand(w http.ResponseWriter, r *http.Request) {
	body, ok := s.slackBody(w, r)
	if !ok {
		return
	}
	c, err := slack.ParseCommand(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "", err.Error())
		return
	}
	by := slack.Who(c.User, s.cfg.SlackPeople)
	verb, rest, _ := strings.Cut(c.Text, " ")
	if verb == "silence" {
		writeJSON(w, http.StatusOK, map[string]string{"response_type": "ephemeral", "text": s.slackSilence(r, strings.TrimSpace(rest), by)})
		return
	}
	id, rest, _ := strings.Cut(strings.TrimSpace(rest), " ")
	rest = strings.TrimSpace(rest)
	var name string
	var arg any
	switch {
	case id == "":
	case verb == "ack" || verb == "acknowledge":
		name, arg = workflows.UpdateAcknowledge, alert.Acknowledgement{By: by, Note: rest}
	case verb == "resolve":
		name, arg = workflows.UpdateResolve, alert.Resolution{By: by, Reason: rest}
	case verb == "snooze":
		d, note, _ := strings.Cut(rest, " ")
		name, arg = workflows.UpdateSnooze, alert.SnoozeRequest{By: by, For: d, Note: strings.TrimSpace(note)}
	}
	text := slackCommandHelp
	if name != "" {
		text = s.slackApply(r, id, name, arg, by)
		if text == "" {
			text = fmt.Sprintf("Done: %s %s, by %s.", name, id, by)
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"response_type": "ephemeral", "text": text})
}

// slackSilence starts the silence "/alertflow silence" asks for: the
// matchers as key=value words (a key given twice matches either value),
// then a duration, then the comment; the creator is the Slack user.
func (s *Server) slackSilence(r *http.Request, text, by string) string {
	words := strings.Fields(text)
	matchers := map[string][]string{}
	var order []string
	i := 0
	for ; i < len(words); i++ {
		k, v, ok := strings.Cut(words[i], "=")
		if !ok {
			break
		}
		if _, seen := matchers[k]; !seen {
			order = append(order, k)
		}
		matchers[k] = append(matchers[k], v)
	}
	if len(matchers) == 0 || i == len(words) {
		return slackCommandHelp
	}
	// One value alone, several as a list, as the REST API takes them;
	// project_id's numbers and tag's true or false as JSON has them.
	m := make(map[string]any, len(matchers))
	for _, k := range order {
		var vs []any
		for _, v := range matchers[k] {
			vs = append(vs, matcherValue(k, v))
		}
		if len(vs) == 1 {
			m[k] = vs[0]
		} else {
			m[k] = vs
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return "alertflow cannot read those matchers: " + err.Error()
	}
	req := silence.Request{Matchers: raw, Duration: words[i], CreatedBy: by, Comment: strings.Join(words[i+1:], " ")}
	ctx, cancel := context.WithTimeout(r.Context(), slackBudget)
	defer cancel()
	out := s.startSilence(ctx, r, req)
	switch {
	case out.err != nil:
		s.metrics.slack("unavailable")
		s.metrics.temporalError(out.operation)
		s.logger.ErrorContext(r.Context(), "temporal call failed", "operation", out.operation, "request_id", RequestID(r.Context()), "error", out.err)
		return "alertflow could not reach Temporal in time to start the silence; it may still start: list the silences before trying again"
	case out.status != http.StatusCreated:
		s.metrics.slack("rejected")
		return "alertflow cannot start that silence: " + out.msg
	}
	s.metrics.slack("applied")
	sl := out.answer.Silence
	return fmt.Sprintf("Silence %s started by %s, %s until %s: %s", sl.ID, sl.CreatedBy, out.answer.State,
		sl.EndsAt.UTC().Format("2006-01-02 15:04 UTC"), string(sl.Matchers))
}

// matcherValue is v as the matcher k takes it.
func matcherValue(k, v string) any {
	switch k {
	case "project_id":
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	case "tag":
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return v
}

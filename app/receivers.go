package main

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/alertflow/alertflow/activities"
	"github.com/alertflow/alertflow/alert"
	routeconfig "github.com/alertflow/alertflow/config"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/pagerduty"
	"github.com/alertflow/alertflow/notify/slack"
	"github.com/alertflow/alertflow/notify/webhook"
	"github.com/alertflow/alertflow/route"
)

// routingOf reads where notifications go: the routing file that
// ALERTFLOW_CONFIG names, or, without one, a single receiver made of the
// webhook and Slack variables, as before routing existed.
func routingOf(cfg config, getenv func(string) string) (*routeconfig.Config, error) {
	if cfg.ConfigFile == "" {
		return routeconfig.FromEnv(cfg.WebhookURL, cfg.WebhookSecret, cfg.SlackURL), nil
	}
	// Two places to say where notifications go would leave people
	// guessing which one wins.
	for _, v := range []struct{ name, value string }{
		{"ALERTFLOW_NOTIFY_WEBHOOK_URL", cfg.WebhookURL}, {"ALERTFLOW_SLACK_WEBHOOK_URL", cfg.SlackURL},
	} {
		if v.value != "" {
			return nil, fmt.Errorf("%s is set alongside ALERTFLOW_CONFIG: define that receiver in %s instead", v.name, cfg.ConfigFile)
		}
	}
	rc, err := routeconfig.Load(cfg.ConfigFile, envLookup(getenv).LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("ALERTFLOW_CONFIG: %w", err)
	}
	return rc, nil
}

// sinks builds the notification activities of a routing configuration:
// one notifier per integration of each receiver.
func sinks(rc *routeconfig.Config, logger *slog.Logger) *activities.Sinks {
	receivers := receiversOf(rc, notify.DefaultHTTPClient())
	tree := rc.Route
	// Alerts opened before routing existed send to "the" webhook and Slack
	// by name: those of the root receiver.
	root := receivers[tree.Receiver]
	return activities.NewRoutedSinks(logger, root[activities.IntegrationWebhook], root[activities.IntegrationSlack], activities.Routing{
		Route:     func(s alert.State) []string { return tree.Receivers(route.LabelsOf(s)) },
		Escalate:  func(s alert.State) *route.Escalation { return tree.EscalationOf(route.LabelsOf(s)) },
		Receivers: receivers,
		Root:      tree.Receiver,
		Changes:   changesOf(rc, receivers),
	})
}

// changesOf are the receivers whose PagerDuty integration takes change
// events, each sending them with the integration's own notifier (its key
// and client) to its change URL.
func changesOf(rc *routeconfig.Config, receivers map[string]activities.Receiver) map[string]activities.ChangeNotifier {
	changes := map[string]activities.ChangeNotifier{}
	for _, r := range rc.Receivers {
		if r.PagerDuty == nil || !r.PagerDuty.ChangeEvents {
			continue
		}
		if pd, ok := receivers[r.Name][activities.IntegrationPagerDuty].(*pagerduty.Notifier); ok {
			changes[r.Name] = pd.WithChangeURL(r.PagerDuty.ChangeURL)
		}
	}
	return changes
}

// changeEvents says whether the intake starts change workflows: as
// ALERTFLOW_CHANGE_EVENTS says (set), else when a receiver of the routing
// file takes change events; false when the file was not read.
func changeEvents(set *bool, rc *routeconfig.Config) bool {
	if set != nil {
		return *set
	}
	if rc == nil {
		return false
	}
	for _, r := range rc.Receivers {
		if r.PagerDuty != nil && r.PagerDuty.ChangeEvents {
			return true
		}
	}
	return false
}

// receiversOf makes one notifier per integration of each receiver.
func receiversOf(rc *routeconfig.Config, client *http.Client) map[string]activities.Receiver {
	receivers := make(map[string]activities.Receiver, len(rc.Receivers))
	for _, r := range rc.Receivers {
		rcv := activities.Receiver{}
		if r.Webhook != nil {
			rcv[activities.IntegrationWebhook] = webhook.New(r.Webhook.URL.Value(), r.Webhook.Secret.Value(), client)
		}
		switch {
		case r.Slack != nil && r.Slack.App():
			rcv[activities.IntegrationSlack] = slack.NewApp(r.Slack.APIURL, r.Slack.Token.Value(), r.Slack.Channel, client)
		case r.Slack != nil:
			rcv[activities.IntegrationSlack] = slack.New(r.Slack.URL.Value(), client)
		}
		if r.PagerDuty != nil {
			rcv[activities.IntegrationPagerDuty] = pagerduty.New(r.PagerDuty.URL, r.PagerDuty.RoutingKey.Value(), client)
		}
		receivers[r.Name] = rcv
	}
	return receivers
}

// receiverNames lists the configured receivers, for the start-up log line.
func receiverNames(rc *routeconfig.Config) []string {
	names := make([]string, 0, len(rc.Receivers))
	for _, r := range rc.Receivers {
		names = append(names, r.Name)
	}
	return names
}

// readsRouting says whether cmd reads the routing file: a worker routes
// notifications with it; an intake alone only names Slack users by its
// people, so it reads the file only when it takes Slack's buttons, and
// needs the variables the file names only then.
func readsRouting(cmd string, cfg config) bool {
	switch cmd {
	case "silence-worker":
		return false
	case "ingress":
		return cfg.ConfigFile != "" && len(cfg.SlackSigningSecret) > 0
	}
	return true
}

// peopleOf are the Slack users the routing file names, if it was read.
func peopleOf(rc *routeconfig.Config) map[string]string {
	if rc == nil {
		return nil
	}
	return rc.People
}

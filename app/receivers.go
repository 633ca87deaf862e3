package app

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/alertflow/alertflow/activities"
	routeconfig "github.com/alertflow/alertflow/config"
	"github.com/alertflow/alertflow/notify"
	"github.com/alertflow/alertflow/notify/pagerduty"
	"github.com/alertflow/alertflow/notify/slack"
	"github.com/alertflow/alertflow/notify/teams"
	"github.com/alertflow/alertflow/notify/webhook"
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

// The receiver registry: what each kind of integration a routing file may
// give a receiver is built into. Adding a kind is a row here, its notifier
// (notify/<kind>) and its fields in the routing file (config/receivers.go):
// nothing else names a kind: the delivery activity targets every
// integration a receiver has.
var receiverKinds = []receiverKind{
	{
		name: routeconfig.IntegrationWebhook,
		build: func(r routeconfig.Receiver, client *http.Client) notify.Notifier {
			if r.Webhook == nil {
				return nil
			}
			return webhook.New(r.Webhook.URL.Value(), r.Webhook.Secret.Value(), client)
		},
	},
	{
		name: routeconfig.IntegrationSlack,
		build: func(r routeconfig.Receiver, client *http.Client) notify.Notifier {
			switch {
			case r.Slack == nil:
				return nil
			case r.Slack.App():
				return slack.NewApp(r.Slack.APIURL, r.Slack.Token.Value(), r.Slack.Channel, client)
			}
			return slack.New(r.Slack.URL.Value(), client)
		},
	},
	{
		name: routeconfig.IntegrationPagerDuty,
		build: func(r routeconfig.Receiver, client *http.Client) notify.Notifier {
			if r.PagerDuty == nil {
				return nil
			}
			return pagerduty.New(r.PagerDuty.URL, r.PagerDuty.RoutingKey.Value(), client)
		},
		// Change events go out with the integration's own notifier (its
		// key and client), to its change URL.
		changes: func(r routeconfig.Receiver, n notify.Notifier) activities.ChangeNotifier {
			pd, ok := n.(*pagerduty.Notifier)
			if !ok || !r.PagerDuty.ChangeEvents {
				return nil
			}
			return pd.WithChangeURL(r.PagerDuty.ChangeURL)
		},
	},
	{
		name: routeconfig.IntegrationTeams,
		build: func(r routeconfig.Receiver, client *http.Client) notify.Notifier {
			if r.Teams == nil {
				return nil
			}
			return teams.New(r.Teams.URL.Value(), client)
		},
	},
}

// receiverKind is one row of the registry.
type receiverKind struct {
	// name is the integration's key in the routing file, and its name in
	// the targets the history records (activities.Target.Integration).
	name string
	// build makes the notifier of r's integration of this kind; nil when
	// r has none.
	build func(r routeconfig.Receiver, client *http.Client) notify.Notifier
	// changes, when set, is the notifier of the change events that r's
	// integration (notifier n) takes; nil when it takes none.
	changes func(r routeconfig.Receiver, n notify.Notifier) activities.ChangeNotifier
}

// Sinks builds the notification activities of a routing configuration:
// one notifier per integration of each receiver, each sending through
// client. The worker of every serving command is built with it; tests
// that route give it their own file.
func Sinks(rc *routeconfig.Config, client *http.Client, logger *slog.Logger) *activities.Sinks {
	receivers, changes := receiversOf(rc, client)
	tree := rc.Route
	// Alerts opened before routing existed send to "the" webhook and Slack
	// by name: those of the root receiver.
	root := receivers[tree.Receiver]
	return activities.NewRoutedSinks(logger, root[activities.IntegrationWebhook], root[activities.IntegrationSlack], activities.Routing{
		Route:     tree.Receivers,
		Escalate:  tree.EscalationOf,
		Receivers: receivers,
		Root:      tree.Receiver,
		Changes:   changes,
	})
}

// ChangeEvents says whether the intake starts change workflows: as
// ALERTFLOW_CHANGE_EVENTS says (set), else when a receiver of the routing
// file takes change events; false when the file was not read (rc nil).
func ChangeEvents(set *bool, rc *routeconfig.Config) bool {
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

// receiversOf makes, through the registry, one notifier per integration of
// each receiver, and the change notifiers of the receivers that take
// change events, by receiver name.
func receiversOf(rc *routeconfig.Config, client *http.Client) (map[string]activities.Receiver, map[string]activities.ChangeNotifier) {
	receivers := make(map[string]activities.Receiver, len(rc.Receivers))
	changes := map[string]activities.ChangeNotifier{}
	for _, r := range rc.Receivers {
		rcv := activities.Receiver{}
		for _, kind := range receiverKinds {
			n := kind.build(r, client)
			if n == nil {
				continue
			}
			rcv[kind.name] = n
			if kind.changes == nil {
				continue
			}
			if c := kind.changes(r, n); c != nil {
				changes[r.Name] = c
			}
		}
		receivers[r.Name] = rcv
	}
	return receivers, changes
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

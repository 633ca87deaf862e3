package app

import (
	"fmt"

	routeconfig "github.com/alertflow/alertflow/config"
	"github.com/alertflow/alertflow/gitlabapi"
	"github.com/alertflow/alertflow/ingress"
	"github.com/alertflow/alertflow/worker"
)

// gitLabClients are the API clients that reconcile alerts, by instance.
func gitLabClients(apis []ingress.GitLabAPI) (map[string]*gitlabapi.Client, error) {
	if err := ingress.CheckTokens(apis); err != nil {
		return nil, err
	}
	clients := make(map[string]*gitlabapi.Client, len(apis))
	for _, a := range apis {
		c, err := gitlabapi.New(a.URL, a.Token, nil)
		if err != nil {
			return nil, fmt.Errorf("GitLab API of instance %q: %w", a.Instance, err)
		}
		clients[a.Instance] = c
	}
	return clients, nil
}

// reconciledInstances are the instances whose alerts are reconciled.
func reconciledInstances(apis []ingress.GitLabAPI) map[string]bool {
	m := make(map[string]bool, len(apis))
	for _, a := range apis {
		m[a.Instance] = true
	}
	return m
}

// monitorsOf are the heartbeat monitors the routing file declares.
func monitorsOf(rc *routeconfig.Config) worker.Monitors {
	if rc == nil {
		return worker.Monitors{}
	}
	return worker.Monitors{Specs: rc.Monitors, Schedules: rc.ScheduleMonitors}
}

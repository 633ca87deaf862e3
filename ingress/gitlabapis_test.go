package ingress

import (
	"strings"
	"testing"
)

func TestGitLabAPIsAreOnePerInstanceAndNeverQuoteAToken(t *testing.T) {
	const secret = "glpat-very-secret-token"
	tests := []struct {
		name, tokens, instances, urls, apiTokens string
		want                                     []GitLabAPI
		wantErr                                  string
	}{
		{
			name: "one source of the home instance", tokens: "gitlab=tok1",
			urls: "gitlab=https://gitlab.example.com", apiTokens: "gitlab=" + secret,
			want: []GitLabAPI{{URL: "https://gitlab.example.com", Token: secret, Source: "gitlab"}},
		},
		{
			name: "two sources of one instance share its API", tokens: "a=tok1,b=tok2", instances: "a=other,b=other",
			urls: "a=https://other.example.com,b=https://other.example.com", apiTokens: "a=" + secret + ",b=" + secret,
			want: []GitLabAPI{{Instance: "other", URL: "https://other.example.com", Token: secret, Source: "a"}},
		},
		{
			name: "an intake alone knows the URL without the token", tokens: "gitlab=tok1",
			urls: "gitlab=https://gitlab.example.com",
			want: []GitLabAPI{{URL: "https://gitlab.example.com", Source: "gitlab"}},
		},
		{
			name: "two APIs for one instance", tokens: "a=tok1,b=tok2",
			urls: "a=https://one.example.com,b=https://two.example.com", apiTokens: "a=" + secret + ",b=" + secret,
			wantErr: `sources "a" and "b": one GitLab instance, two APIs`,
		},
		{
			name: "a token without a URL", tokens: "a=tok1", apiTokens: "a=" + secret,
			wantErr: `source "a": a GitLab API token without an API URL`,
		},
		{
			name: "a URL that is not one", tokens: "a=tok1", urls: "a=gitlab.example.com",
			wantErr: `source "a": want the GitLab's base URL`,
		},
		{
			name: "a source the webhook tokens do not have", tokens: "a=tok1", urls: "b=https://gitlab.example.com",
			wantErr: `source "b": not in ALERTFLOW_SOURCE_TOKENS`,
		},
		{
			name: "a worker alone, given no webhook token, names its sources by these settings", instances: "b=other",
			urls: "b=https://other.example.com", apiTokens: "b=" + secret,
			want: []GitLabAPI{{Instance: "other", URL: "https://other.example.com", Token: secret, Source: "b"}},
		},
		{
			name: "a placeholder token", tokens: "a=tok1", urls: "a=https://gitlab.example.com", apiTokens: "a=CHANGE-ME",
			wantErr: `source "a": want a GitLab token with the read_api scope`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tok Tokens
			var err error
			if tt.tokens != "" {
				tok, err = ParseTokens(tt.tokens)
			}
			for _, step := range []struct {
				spec string
				set  func(string) error
			}{{tt.instances, tok.SetInstances}, {tt.urls, tok.SetGitLabAPIURLs}, {tt.apiTokens, tok.SetGitLabAPITokens}} {
				if err == nil && step.spec != "" {
					err = step.set(step.spec)
				}
			}
			var got []GitLabAPI
			if err == nil {
				got, err = tok.GitLabAPIs()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "tok1") {
					t.Fatalf("error %q quotes a token", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("APIs %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("API %d: %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			if tok.Len() != strings.Count(tt.tokens, "=") {
				t.Errorf("%d webhook sources, want %d: a source named only by these settings takes no webhook", tok.Len(), strings.Count(tt.tokens, "="))
			}
		})
	}
}

func TestCheckTokensNamesTheSourceWithoutOne(t *testing.T) {
	err := CheckTokens([]GitLabAPI{{URL: "https://gitlab.example.com", Source: "gitlab"}})
	if err == nil || !strings.Contains(err.Error(), `source "gitlab"`) {
		t.Fatalf("error %v", err)
	}
	if err := CheckTokens([]GitLabAPI{{URL: "https://gitlab.example.com", Token: "x", Source: "gitlab"}}); err != nil {
		t.Fatal(err)
	}
}

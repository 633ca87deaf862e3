package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/uuid"

	"github.com/alertflow/alertflow/ingress"
)

// devTokensFile keeps the tokens alertflow dev made up, in the data
// directory beside the alerts: a GitLab hook configured with the printed
// URL must still work after a restart (GitLab disables a hook after four
// failures).
const devTokensFile = "dev-tokens.json"

type devTokens struct {
	Source string `json:"source_token"`
	API    string `json:"api_token"`
}

// loadOrMakeDevTokens reads the tokens of an earlier start from dataDir, or
// makes up new ones and keeps them there, readable by the owner only.
func loadOrMakeDevTokens(dataDir string) (devTokens, error) {
	path := filepath.Join(dataDir, devTokensFile)
	b, err := os.ReadFile(path)
	if err == nil {
		var t devTokens
		if err := json.Unmarshal(b, &t); err != nil || t.Source == "" || t.API == "" {
			return devTokens{}, fmt.Errorf("ALERTFLOW_DATA_DIR: %s is damaged; delete it to make new tokens", path)
		}
		// Tighten a copy made with a loose umask; the tokens are secrets.
		if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				return devTokens{}, fmt.Errorf("ALERTFLOW_DATA_DIR: make %s private: %w", path, err)
			}
		}
		return t, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return devTokens{}, fmt.Errorf("ALERTFLOW_DATA_DIR: read %s: %w", path, err)
	}
	t := devTokens{Source: uuid.NewString(), API: uuid.NewString()}
	b, err = json.MarshalIndent(t, "", "  ")
	if err != nil {
		return devTokens{}, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return devTokens{}, fmt.Errorf("ALERTFLOW_DATA_DIR: %w", err)
	}
	// Written aside and renamed: a crash mid-write leaves no half file.
	tmp, err := os.CreateTemp(dataDir, devTokensFile+".*")
	if err != nil {
		return devTokens{}, fmt.Errorf("ALERTFLOW_DATA_DIR: keep the dev tokens: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return devTokens{}, fmt.Errorf("ALERTFLOW_DATA_DIR: keep the dev tokens in %s: %w", path, err)
	}
	return t, nil
}

// applyDevTokens fills in the tokens the environment left unset with the
// kept ones, and returns what to print for each: a token given in the
// environment wins and is never printed.
func applyDevTokens(cfg *config) (source, api string, err error) {
	source, api = "<one of your ALERTFLOW_SOURCE_TOKENS>", "$ALERTFLOW_API_TOKEN"
	if cfg.sourceTokensSet && cfg.apiTokenSet {
		return source, api, nil
	}
	kept, err := loadOrMakeDevTokens(cfg.DataDir)
	if err != nil {
		return "", "", err
	}
	if !cfg.sourceTokensSet {
		source = kept.Source
		if cfg.SourceTokens, err = ingress.ParseTokens("dev=" + source); err != nil {
			return "", "", err
		}
	}
	if !cfg.apiTokenSet {
		api = kept.API
		if cfg.APIToken, err = ingress.ParseTokens("api=" + api); err != nil {
			return "", "", err
		}
	}
	return source, api, nil
}

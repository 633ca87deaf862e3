package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/alertflow/alertflow/silence"
	"github.com/alertflow/alertflow/visibility"
	"github.com/alertflow/alertflow/workflows"
)

// Page sizes of GET /silences, as ?limit= asks.
const (
	defaultSilencesListed = 100
	maxSilencesListed     = 1000
)

// SilenceAnswer is a silence as the REST API shows it: as kept, and where
// it stands now.
type SilenceAnswer struct {
	silence.Silence
	State silence.State `json:"state"`
}

// SilenceList is the answer of GET /api/v1/silences.
type SilenceList struct {
	Silences      []SilenceAnswer `json:"silences"`
	NextPageToken string          `json:"next_page_token,omitempty"`
}

func (s *Server) routeSilences(api *mux.Router) {
	list := newReadBound(apiPrefix+"/silences", maxConcurrentReads, s.cfg.Registry)
	api.HandleFunc(apiPrefix+"/silences", s.createSilence).Methods(http.MethodPost)
	api.Handle(apiPrefix+"/silences", list.wrap(s.listSilences)).Methods(http.MethodGet)
	api.HandleFunc(apiPrefix+"/silences/{id}", s.showSilence).Methods(http.MethodGet)
	api.HandleFunc(apiPrefix+"/silences/{id}", s.expireSilence).Methods(http.MethodDelete)
}

// decodeBody reads one JSON object into v, refusing unknown fields and
// anything after it.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, example string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "", "body must be JSON like "+example+": "+err.Error())
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, "", "body must be one JSON object with nothing after it")
		return false
	}
	return true
}

func (s *Server) createSilence(w http.ResponseWriter, r *http.Request) {
	var req silence.Request
	if !decodeBody(w, r, &req, `{"matchers":{"project":"team-a/*"},"duration":"2h","created_by":"alice"}`) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), temporalTimeout)
	defer cancel()
	out := s.startSilence(ctx, r, req)
	switch {
	case out.err != nil:
		s.unavailable(w, r, out.operation, "", out.err)
	case out.status != http.StatusCreated:
		writeError(w, out.status, "", out.msg)
	default:
		writeJSON(w, http.StatusCreated, out.answer)
	}
}

// started is what a silence's creation came to, for the REST API and
// Slack alike: 201 with the answer, 400 or 409 with msg, or err (and the
// operation that failed) when Temporal could not be asked.
type started struct {
	status    int
	answer    SilenceAnswer
	msg       string
	operation string
	err       error
}

// startSilence validates req and starts its silence.
func (s *Server) startSilence(ctx context.Context, r *http.Request, req silence.Request) started {
	now := time.Now().UTC()
	sl, err := silence.New(silence.IDPrefix+uuid.NewString(), req, now)
	if err != nil {
		return started{status: http.StatusBadRequest, msg: err.Error()}
	}
	count, err := s.temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: workflows.RunningSilences})
	if err != nil {
		return started{operation: "count_silences", err: err}
	}
	if count.GetCount() >= silence.MaxSilences {
		return started{status: http.StatusConflict, msg: fmt.Sprintf("too many silences: %d are active or pending, at most %d (silence.MaxSilences): expire some, or write a route", count.GetCount(), silence.MaxSilences)}
	}
	_, err = s.temporal.ExecuteWorkflow(ctx, workflows.SilenceStartOptions(s.silenceQueue(), sl), workflows.SilenceWorkflowType, sl)
	if err != nil {
		return started{operation: "create_silence", err: err}
	}
	s.logger.InfoContext(r.Context(), "Silence created", "silence_id", sl.ID, "created_by", sl.CreatedBy,
		"starts_at", sl.StartsAt, "ends_at", sl.EndsAt)
	return started{status: http.StatusCreated, answer: SilenceAnswer{Silence: sl, State: sl.StateAt(now)}}
}

// listSilences answers one page of silences. Pages come in Temporal's
// order, silences still running (active or pending) before those that
// ended; each page is sorted as the whole list used to be.
func (s *Server) listSilences(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	size := defaultSilencesListed
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > maxSilencesListed {
			writeError(w, http.StatusBadRequest, "limit", fmt.Sprintf("limit must be a whole number from 1 to %d", maxSilencesListed))
			return
		}
		size = n
	}
	token, ok := openPageToken(q.Get("page_token"))
	if !ok {
		writeError(w, http.StatusBadRequest, "page_token", "page_token is not one this API gave out")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), temporalTimeout)
	defer cancel()
	resp, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query:         "WorkflowType = " + visibility.Quote(workflows.SilenceWorkflowType),
		PageSize:      int32(size),
		NextPageToken: token,
	})
	if err != nil {
		s.unavailable(w, r, "list_silences", "", err)
		return
	}
	now := time.Now()
	list := SilenceList{Silences: []SilenceAnswer{}, NextPageToken: sealPageToken(resp.GetNextPageToken())}
	for _, run := range resp.GetExecutions() {
		sl, ok := workflows.SilenceOf(run)
		if !ok {
			continue // refused at start: it never was a silence
		}
		list.Silences = append(list.Silences, answerOf(sl, run.GetStatus(), now))
	}
	// Active first, then those to come, then the expired; newest first.
	rank := map[silence.State]int{silence.StateActive: 0, silence.StatePending: 1, silence.StateExpired: 2}
	slices.SortStableFunc(list.Silences, func(a, b SilenceAnswer) int {
		if d := rank[a.State] - rank[b.State]; d != 0 {
			return d
		}
		return b.CreatedAt.Compare(a.CreatedAt)
	})
	writeJSON(w, http.StatusOK, list)
}

// answerOf is sl as it stands at now; a silence whose workflow ended is
// over whatever its times say (it was expired, or failed).
func answerOf(sl silence.Silence, status enumspb.WorkflowExecutionStatus, now time.Time) SilenceAnswer {
	st := sl.StateAt(now)
	if status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		st = silence.StateExpired
	}
	return SilenceAnswer{Silence: sl, State: st}
}

// silenceID reads the {id} of a silence route.
func silenceID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := mux.Vars(r)["id"]
	if err := silence.CheckID(id); err != nil {
		writeError(w, http.StatusBadRequest, "id", strings.TrimPrefix(err.Error(), silence.ErrInvalid.Error()+": "))
		return "", false
	}
	return id, true
}

// describeSilence reads silence id from its workflow; false after
// answering when there is none.
func (s *Server) describeSilence(ctx context.Context, w http.ResponseWriter, r *http.Request, id string) (SilenceAnswer, bool) {
	d, err := s.temporal.DescribeWorkflowExecution(ctx, id, "")
	if err != nil {
		if visibility.NotFound(err) {
			writeError(w, http.StatusNotFound, "", "no silence "+id)
		} else {
			s.unavailable(w, r, "describe_silence", "", err)
		}
		return SilenceAnswer{}, false
	}
	info := d.GetWorkflowExecutionInfo()
	sl, ok := workflows.SilenceOf(info)
	if info.GetType().GetName() != workflows.SilenceWorkflowType || !ok {
		writeError(w, http.StatusNotFound, "", "no silence "+id)
		return SilenceAnswer{}, false
	}
	return answerOf(sl, info.GetStatus(), time.Now()), true
}

func (s *Server) showSilence(w http.ResponseWriter, r *http.Request) {
	id, ok := silenceID(w, r)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), temporalTimeout)
	defer cancel()
	if a, ok := s.describeSilence(ctx, w, r, id); ok {
		writeJSON(w, http.StatusOK, a)
	}
}

// expireSilence ends a silence early. Who expires it comes from ?by= or
// a body {"by"}; without either, "api". Expiring a silence that is over
// already answers it as it is: DELETE is idempotent.
func (s *Server) expireSilence(w http.ResponseWriter, r *http.Request) {
	id, ok := silenceID(w, r)
	if !ok {
		return
	}
	req := workflows.ExpireRequest{By: r.URL.Query().Get("by")}
	if r.ContentLength > 0 && !decodeBody(w, r, &req, `{"by":"alice"}`) {
		return
	}
	if err := silence.CheckExpiredBy(req.By); err != nil {
		writeError(w, http.StatusBadRequest, "by", err.Error())
		return
	}
	if strings.TrimSpace(req.By) == "" {
		req.By = "api"
	}
	ctx, cancel := context.WithTimeout(r.Context(), temporalTimeout)
	defer cancel()
	current, ok := s.describeSilence(ctx, w, r, id)
	if !ok {
		return
	}
	if current.State == silence.StateExpired {
		writeJSON(w, http.StatusOK, current)
		return
	}
	h, err := s.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: id, UpdateName: workflows.UpdateExpire, Args: []any{req},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var sl silence.Silence
	if err == nil {
		err = h.Get(ctx, &sl)
	}
	var appErr *temporal.ApplicationError
	switch {
	case err == nil:
		s.logger.InfoContext(r.Context(), "Silence expired", "silence_id", id, "expired_by", sl.ExpiredBy)
		writeJSON(w, http.StatusOK, SilenceAnswer{Silence: sl, State: silence.StateExpired})
	case errors.As(err, &appErr) && appErr.Type() == workflows.ErrTypeInvalidInput:
		writeError(w, http.StatusBadRequest, "", appErr.Message())
	case visibility.NotFound(err):
		// It ended between the two calls.
		if a, ok := s.describeSilence(ctx, w, r, id); ok {
			writeJSON(w, http.StatusOK, a)
		}
	default:
		s.unavailable(w, r, "expire_silence", "", err)
	}
}

// silenceQueue is the task queue new silences run on.
func (s *Server) silenceQueue() string {
	if s.cfg.SilenceTaskQueue != "" {
		return s.cfg.SilenceTaskQueue
	}
	return s.cfg.TaskQueue
}

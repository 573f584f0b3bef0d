package v1alpha1

import (
	"fmt"
	"strings"

	"github.com/robfig/cron/v3"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// CronParser reads schedules as Knative's PingSource does: five fields,
// six with seconds first, or a descriptor such as @hourly.
var CronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a schedule as a Knative PingSource accepts it,
// which is CronParser without @every (Knative rejects it).
func ParseSchedule(s string) (cron.Schedule, error) {
	if strings.Contains(s, "@every") {
		return nil, fmt.Errorf("@every is not supported by Knative's PingSource: write a cron schedule (e.g. \"*/10 * * * * *\" for every 10 seconds)")
	}
	return CronParser.Parse(s)
}

// MaxCronWorkflowName leaves room for the "-<unix time>" of its runs' names
// within 63 characters (Argo's limit too).
const MaxCronWorkflowName = 52

// ValidateCronWorkflow checks a CronWorkflow: its schedules parse, its
// timezone exists, and each run's spec is valid.
func ValidateCronWorkflow(cw *CronWorkflow) field.ErrorList {
	spec := field.NewPath("spec")
	var allErrs field.ErrorList
	switch name := field.NewPath("metadata", "name"); {
	case cw.Name == "":
		allErrs = append(allErrs, field.Required(name, "every object needs a name"))
	case len(cw.Name) > MaxCronWorkflowName:
		// Runs are named <name>-<unix time>, and must stay a valid label.
		allErrs = append(allErrs, field.TooLong(name, cw.Name, MaxCronWorkflowName))
	}
	schedules := cw.Spec.AllSchedules()
	if len(schedules) == 0 {
		allErrs = append(allErrs, field.Required(spec.Child("schedules"), "a CronWorkflow needs at least one schedule"))
	}
	for i, s := range cw.Spec.Schedules {
		if _, err := ParseSchedule(s); err != nil {
			allErrs = append(allErrs, field.Invalid(spec.Child("schedules").Index(i), s, err.Error()))
		}
	}
	if s := cw.Spec.Schedule; s != "" {
		if _, err := ParseSchedule(s); err != nil {
			allErrs = append(allErrs, field.Invalid(spec.Child("schedule"), s, err.Error()))
		}
	}
	allErrs = append(allErrs, validateTimezone(spec.Child("timezone"), cw.Spec.Timezone)...)
	switch cw.Spec.ConcurrencyPolicy {
	case "", ConcurrencyAllow, ConcurrencyForbid, ConcurrencyReplace:
	default:
		allErrs = append(allErrs, field.NotSupported(spec.Child("concurrencyPolicy"), cw.Spec.ConcurrencyPolicy, []ConcurrencyPolicy{ConcurrencyAllow, ConcurrencyForbid, ConcurrencyReplace}))
	}
	for _, f := range []struct {
		name string
		v    *int32
	}{{"successfulJobsHistoryLimit", cw.Spec.SuccessfulJobsHistoryLimit}, {"failedJobsHistoryLimit", cw.Spec.FailedJobsHistoryLimit}} {
		if f.v != nil && *f.v < 0 {
			allErrs = append(allErrs, field.Invalid(spec.Child(f.name), *f.v, "must not be negative"))
		}
	}
	if d := cw.Spec.StartingDeadlineSeconds; d != nil && *d < 0 {
		allErrs = append(allErrs, field.Invalid(spec.Child("startingDeadlineSeconds"), *d, "must not be negative"))
	}
	return append(allErrs, ValidateWorkflowSpec(&cw.Spec.WorkflowSpec, spec.Child("workflowSpec"), true)...)
}

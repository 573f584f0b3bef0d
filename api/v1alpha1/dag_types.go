package v1alpha1

// DAGTemplate runs tasks as their dependencies allow.
type DAGTemplate struct {
	// Target is a space-separated list of tasks to run (with their
	// dependencies). Default: every task no other task depends on.
	// +optional
	Target string `json:"target,omitempty"`

	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=2000
	// +listType=map
	// +listMapKey=name
	Tasks []DAGTask `json:"tasks"`

	// FailFast (default true) starts no new task once a task failed that no
	// other task handles (with continueOn or a depends on its failure); the
	// DAG fails when the running tasks are done.
	// +optional
	FailFast *bool `json:"failFast,omitempty"`
}

// DAGTask is a node of a DAG.
//
// +kubebuilder:validation:XValidation:rule="has(self.template) != has(self.templateRef)",message="exactly one of template or templateRef must be set"
// +kubebuilder:validation:XValidation:rule="!(has(self.dependencies) && has(self.depends))",message="use either dependencies or depends, not both"
// +kubebuilder:validation:XValidation:rule="!(has(self.withParam) && has(self.withSequence))",message="withParam and withSequence cannot both be set"
type DAGTask struct {
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][-a-zA-Z0-9_]*$`
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name"`

	// Template is the name of a template of this workflow.
	// +optional
	Template string `json:"template,omitempty"`
	// TemplateRef is a template of a WorkflowTemplate.
	// +optional
	TemplateRef *TemplateRef `json:"templateRef,omitempty"`

	// +optional
	Arguments Arguments `json:"arguments,omitempty"`

	// Dependencies are tasks that must succeed (or be skipped) first.
	// +optional
	Dependencies []string `json:"dependencies,omitempty"`
	// Depends is a boolean expression over task results, e.g.
	// "A && (B.Failed || C.Skipped)".
	// +optional
	Depends string `json:"depends,omitempty"`

	// When is an expression; false skips the task.
	// +optional
	When string `json:"when,omitempty"`

	// +optional
	WithItems []Item `json:"withItems,omitempty"`
	// WithParam is a JSON list, usually from another task's output.
	// +optional
	WithParam string `json:"withParam,omitempty"`
	// +optional
	WithSequence *Sequence `json:"withSequence,omitempty"`

	// ContinueOn lets dependents of this task run when it fails or errors.
	// +optional
	ContinueOn *ContinueOn `json:"continueOn,omitempty"`

	// Hooks run templates when this task exits ("exit") or when an
	// expression becomes true.
	// +optional
	Hooks LifecycleHooks `json:"hooks,omitempty"`

	// OnExit is the same as hooks.exit with the task's arguments.
	// +optional
	OnExit string `json:"onExit,omitempty"`
}

// TemplateRef points at a template of a WorkflowTemplate.
type TemplateRef struct {
	// Name of the WorkflowTemplate.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`
	// Template is the name of the template inside it.
	// +kubebuilder:validation:MinLength=1
	Template string `json:"template"`
}

// Key is the StoredTemplates key of the referenced template.
func (r TemplateRef) Key() string { return r.Name + "/" + r.Template }

// ContinueOn says which failures of a task do not stop its dependents.
type ContinueOn struct {
	// +optional
	Error bool `json:"error,omitempty"`
	// +optional
	Failed bool `json:"failed,omitempty"`
}

// LifecycleHooks maps a hook name to the hook. "exit" is the exit handler.
type LifecycleHooks map[string]LifecycleHook

// ExitHookName is the key of the exit hook.
const ExitHookName = "exit"

// LifecycleHook runs a template once its expression holds (or, for "exit",
// once its parent completes).
//
// +kubebuilder:validation:XValidation:rule="has(self.template) != has(self.templateRef)",message="exactly one of template or templateRef must be set"
type LifecycleHook struct {
	// +optional
	Template string `json:"template,omitempty"`
	// +optional
	TemplateRef *TemplateRef `json:"templateRef,omitempty"`
	// +optional
	Arguments Arguments `json:"arguments,omitempty"`
	// Expression gates the hook; required for hooks other than "exit".
	// +optional
	Expression string `json:"expression,omitempty"`
}

// WorkflowStep is a step of a steps template.
//
// +kubebuilder:validation:XValidation:rule="has(self.template) != has(self.templateRef)",message="exactly one of template or templateRef must be set"
// +kubebuilder:validation:XValidation:rule="!(has(self.withParam) && has(self.withSequence))",message="withParam and withSequence cannot both be set"
type WorkflowStep struct {
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][-a-zA-Z0-9_]*$`
	// +kubebuilder:validation:MaxLength=128
	Name string `json:"name"`
	// +optional
	Template string `json:"template,omitempty"`
	// +optional
	TemplateRef *TemplateRef `json:"templateRef,omitempty"`
	// +optional
	Arguments Arguments `json:"arguments,omitempty"`
	// +optional
	When string `json:"when,omitempty"`
	// +optional
	WithItems []Item `json:"withItems,omitempty"`
	// +optional
	WithParam string `json:"withParam,omitempty"`
	// +optional
	WithSequence *Sequence `json:"withSequence,omitempty"`
	// ContinueOn lets the step group succeed when this step fails or errors.
	// +optional
	ContinueOn *ContinueOn `json:"continueOn,omitempty"`
	// +optional
	Hooks LifecycleHooks `json:"hooks,omitempty"`
	// +optional
	OnExit string `json:"onExit,omitempty"`
}

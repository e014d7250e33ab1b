package schemas

// The names of srdpo's own evaluation figures: an Eval row is (policy,
// benchmark, metric), and these are the benchmark and metric names the
// evaluation writes and the reports read (a multiple-choice benchmark's
// rows take lm-eval's task and metric names instead).
const (
	BenchGoldReward             = "gold_reward"              // sampled responses scored by the task's gold reward
	BenchRewardModel            = "reward_model"             // sampled responses scored by --reward-model
	GreedySuffix                = "_greedy"                  // the same two on greedy responses: gold_reward_greedy, reward_model_greedy
	BenchPreferences            = "preferences"              // held-out pairs: the implicit reward's accuracy
	BenchQualityCorrelation     = "quality_correlation"      // h and Δπ against the pairs' true gap
	BenchRewardModelCorrelation = "reward_model_correlation" // h and Δπ against the reward model's gap

	MetricMean               = "mean"
	MetricKL                 = "kl_to_reference"       // KL(π‖π_ref) on samples: the sum over positions of the exact next-token KL
	MetricKLMC               = "kl_to_reference_mc"    // KL(π‖π_ref) on samples: the Monte-Carlo mean of Σ log π/π_ref
	MetricLogRatio           = "log_ratio_per_token"   // greedy: mean log π − log π_ref per generated token (not a KL)
	MetricWinRateVs          = "win_rate_vs_"          // + "reference" or another policy's name
	MetricAccuracy           = "accuracy"              // preferences: chosen's implicit reward above rejected's
	MetricPartialDeltaGivenH = "partial_delta_given_h" // partial correlation of Δπ with the gap given h
	MetricPearsonRefPMargin  = "pearson_ref_p_margin"  // the reference's p⊕x margin against the gap
)

// CorrelationMetric names a correlation ("pearson", "spearman", "kendall")
// of a quantity ("h", "delta") with the gap: "pearson_delta".
func CorrelationMetric(kind, of string) string { return kind + "_" + of }

// CounterNamespace is the Beam metrics namespace of srdpo's counters.
const CounterNamespace = "srdpo"

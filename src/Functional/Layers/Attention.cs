using Functional.Shapes;
using Functional.Functions;
namespace Functional.Layers;

/// <summary>
/// Multi-head attention (Keras <c>MultiHeadAttention</c>, "Attention Is All You Need"): the query, key and value are each
/// projected to <see cref="NumHeads"/> heads by an <see cref="EinsumDense"/>, each head takes a softmax of the scaled
/// query·key products over the attention axes and averages the values with it, and the heads are projected back.
/// </summary>
/// <remarks>
/// <para><b>Inputs</b>, in Keras's order: <c>[query, value]</c>, <c>[query, value, key]</c>, or
/// <c>[query, value, key, attention_mask]</c> — <c>layer.Call(query, value)</c>, <c>layer.Call(query, value, key)</c>,
/// <c>layer.Call(query, value, key, attentionMask)</c> (pass <c>value</c> as the key when there is none: Keras's key
/// defaults to the value). The query is (T, dim), value and key (S, dim_v) and (S, dim_k) per sample, or of any rank
/// with <see cref="AttentionAxes"/>; the attention mask is a boolean (or 0/1) tensor of per-sample shape (T, S), True
/// where a query position may attend to a key position.</para>
/// <para><b>Masks</b>, as Keras computes them: the query's mask (T) → (T, 1), the value's and the key's (S) → (1, S), the
/// causal mask (T, S) when <see cref="UseCausalMask"/>, and <c>attention_mask</c> are combined by AND; masked scores get
/// −1e9 (−3e4 in float16) before the softmax and 0 after it. The output keeps the query's mask.</para>
/// <para><b>Per-call arguments.</b> Keras passes <c>use_causal_mask</c> and <c>return_attention_scores</c> when calling the
/// layer; a graph declaration here is a record, so they are the record's init-only properties <see cref="UseCausalMask"/>
/// and <see cref="ReturnAttentionScores"/> (<c>new MultiHeadAttention(2, 16) { UseCausalMask = true }</c>), written to the
/// layer's config only when set. With <see cref="ReturnAttentionScores"/> the layer has two outputs (use <c>CallMany</c>):
/// the attention output and the scores, per sample (num_heads, T, S).</para>
/// <para><b>Weights</b>, as Keras names them: <c>query/kernel</c> (dim, num_heads, key_dim), <c>query/bias</c>
/// (num_heads, key_dim), <c>key/…</c>, <c>value/…</c> (value_dim), <c>attention_output/kernel</c>
/// (num_heads, value_dim, out) and <c>attention_output/bias</c> (out) — out is the query's last dimension unless
/// <see cref="OutputShape"/> says otherwise. No biases without <see cref="UseBias"/>.</para>
/// </remarks>
public sealed record MultiHeadAttention : Layer
{
    /// <summary>The kernels' initializer, regularizer and constraint as one value (shared by the four projections).</summary>
    public WeightOptions Kernel => new(KernelInitializer, KernelRegularizer, KernelConstraint);
    /// <summary>The biases' initializer, regularizer and constraint as one value (shared by the four projections).</summary>
    public WeightOptions Bias => new(BiasInitializer, BiasRegularizer, BiasConstraint);

    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Keras defaults: value_dim = key_dim, no dropout, biases, output like the query, attention over all axes
    /// but batch, heads and features, <c>glorot_uniform</c> kernels, <c>zeros</c> biases.</summary>
    public MultiHeadAttention(int numHeads, int keyDim, int? valueDim = null, double dropout = 0.0, bool useBias = true,
        IntTuple outputShape = default, IntTuple attentionAxes = default,
        Initializer? kernelInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? biasRegularizer = null, Regularizer? activityRegularizer = null,
        Constraint? kernelConstraint = null, Constraint? biasConstraint = null, int? seed = null)
    {
        NumHeads = numHeads;
        KeyDim = keyDim;
        ValueDim = valueDim ?? keyDim;
        Dropout = dropout;
        UseBias = useBias;
        OutputShape = outputShape;
        AttentionAxes = attentionAxes;
        KernelInitializer = kernelInitializer ?? new GlorotUniform();
        BiasInitializer = biasInitializer ?? new Zeros();
        KernelRegularizer = kernelRegularizer;
        BiasRegularizer = biasRegularizer;
        ActivityRegularizer = activityRegularizer;
        KernelConstraint = kernelConstraint;
        BiasConstraint = biasConstraint;
        Seed = seed;
    }

    /// <summary>The number of attention heads.</summary>
    public int NumHeads { get; init => field = value > 0 ? value : throw ArgumentError("numHeads", value, "a strictly positive integer"); }

    /// <summary>The size of each head for query and key.</summary>
    public int KeyDim { get; init => field = value > 0 ? value : throw ArgumentError("keyDim", value, "a strictly positive integer"); }

    /// <summary>The size of each head for the value (Keras: <c>key_dim</c> when not given).</summary>
    public int ValueDim { get; init => field = value > 0 ? value : throw ArgumentError("valueDim", value, "a strictly positive integer or None"); }

    /// <summary>The dropout rate on the attention probabilities, in [0, 1].</summary>
    public double Dropout { get; init => field = value is >= 0 and <= 1 ? value : throw ArgumentError("dropout", value, "a float value between 0 and 1"); }

    /// <summary>Whether the projections have biases (default true).</summary>
    public bool UseBias { get; init; }

    /// <summary>Keras's <c>output_shape</c>: the last dimensions of the output (not given: the query's last dimension).</summary>
    public IntTuple OutputShape
    {
        get;
        init => field = value.All(d => d > 0) ? value : throw ArgumentError("outputShape", value, "a positive integer, a tuple of positive integers, or None");
    }

    /// <summary>Keras's <c>attention_axes</c>, counting the batch axis (not given: every axis but batch, heads and features).</summary>
    public IntTuple AttentionAxes
    {
        get;
        init => field = value.Distinct().Count() == value.Count && !value.Contains(0) ? value
            : throw ArgumentError("attentionAxes", value, "distinct axes other than the batch axis 0, or None");
    }

    /// <summary>Kernel initializer of the four projections; <c>glorot_uniform</c> by default.</summary>
    public Initializer KernelInitializer { get; init => field = value ?? throw ArgumentError("kernelInitializer", null, "an initializer"); }

    /// <summary>Bias initializer of the four projections; <c>zeros</c> by default.</summary>
    public Initializer BiasInitializer { get; init => field = value ?? throw ArgumentError("biasInitializer", null, "an initializer"); }

    /// <summary>Penalty on each kernel; none by default.</summary>
    public Regularizer? KernelRegularizer { get; init; }

    /// <summary>Penalty on each bias; none by default.</summary>
    public Regularizer? BiasRegularizer { get; init; }

    /// <summary>Constraint on each kernel; none by default.</summary>
    public Constraint? KernelConstraint { get; init; }

    /// <summary>Constraint on each bias; none by default.</summary>
    public Constraint? BiasConstraint { get; init; }

    /// <summary>Seed of the attention dropout; <c>null</c> uses the call's generator.</summary>
    public int? Seed { get; init; }

    /// <summary>Keras's call argument <c>use_causal_mask</c>: each query position attends only to key positions at or
    /// before it (a lower-triangular (T, S) mask). False by default.</summary>
    public bool UseCausalMask { get; init; }

    /// <summary>Keras's call argument <c>return_attention_scores</c>: the layer returns the attention probabilities as a
    /// second output. False by default.</summary>
    public bool ReturnAttentionScores { get; init; }

    /// <inheritdoc />
    public override int OutputCount => ReturnAttentionScores ? 2 : 1;

    /// <summary>Rejects a single input: attention takes [query, value] at least.</summary>
    public override Shape ComputeOutputShape(Shape input) =>
        throw ShapeError(input, null, "MultiHeadAttention is called on [query, value], [query, value, key] or [query, value, key, attention_mask]; got one input.");

    /// <inheritdoc />
    public override Shape ComputeOutputShape(IReadOnlyList<Shape> inputs) => ComputeOutputShapes(inputs)[0];

    /// <inheritdoc />
    public override IReadOnlyList<Shape> ComputeOutputShapes(IReadOnlyList<Shape> inputs)
    {
        var plan = Plan(inputs);
        var output = new Shape([.. plan.Query.Take(plan.Query.Rank - 1), .. (OutputShape.Count > 0 ? OutputShape.Select(d => (int?)d) : [plan.Query[^1]])]);
        return ReturnAttentionScores ? [output, plan.ScoresShape] : [output];
    }

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(IReadOnlyList<Shape> inputs)
    {
        var plan = Plan(inputs);
        var specs = new List<ParameterSpec>();
        void Add(string prefix, EinsumDense dense, Shape input) =>
            specs.AddRange(dense.Parameters(input).Select(p => p with { Name = $"{prefix}/{p.Name}" }));
        Add("query", plan.QueryDense, plan.Query);
        Add("key", plan.KeyDense, plan.Key);
        Add("value", plan.ValueDense, plan.Value);
        Add("attention_output", plan.OutputDense, plan.OutputDenseInput);
        return specs;
    }

    /// <summary>
    /// Everything the shapes and the computation need, as Keras's <c>build</c> derives it: the four projections (Keras's
    /// <c>_build_proj_equation</c>), the resolved attention axes, the dot-product and combine equations
    /// (<c>_build_attention_equation</c>) and the axes the softmax normalises over, all counting the batch axis.
    /// </summary>
    public sealed record AttentionPlan(Shape Query, Shape Value, Shape Key, Shape? AttentionMask,
        EinsumDense QueryDense, EinsumDense KeyDense, EinsumDense ValueDense, EinsumDense OutputDense, Shape OutputDenseInput,
        int[] Axes, string DotProductEquation, string CombineEquation, int[] NormAxes, Shape ScoresShape);

    /// <summary>The attention plan for these input shapes (per sample).</summary>
    /// <exception cref="ShapeException">The inputs do not suit the layer (Keras's build errors).</exception>
    public AttentionPlan Plan(IReadOnlyList<Shape> inputs)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count is < 2 or > 4)
            throw new ShapeException(this, inputs, null,
                $"expects [query, value], [query, value, key] or [query, value, key, attention_mask]; got {inputs.Count} input(s).");
        var query = inputs[0];
        var value = inputs[1];
        var key = inputs.Count > 2 ? inputs[2] : value;
        var mask = inputs.Count > 3 ? inputs[3] : null;
        if (query.Rank < 2)
            throw new ShapeException(this, inputs, null, $"the query must have rank at least 3 counting the batch axis (batch, steps, features); got {query}.");
        if (value.Rank != query.Rank || key.Rank != query.Rank)
            throw new ShapeException(this, inputs, null, $"query, value and key must have the same rank; got query {query}, value {value}, key {key}.");
        for (var i = 0; i < value.Rank - 1; i++)
            if (value[i] is { } v && key[i] is { } k && v != k)
                throw new ShapeException(this, inputs, i,
                    $"All dimensions of `value` and `key`, except the last one, must be equal. Received: value_shape={value} and key_shape={key}.");
        var qr = query.Rank + 1;   // ranks count the batch axis, as Keras's
        EinsumDense Projection(int freeDims, int boundDims, int[] outputDims)
        {
            var (equation, biasAxes, outputRank) = ProjectionEquation(freeDims, boundDims, outputDims.Length);
            return new EinsumDense(equation, new Shape([.. Enumerable.Repeat<int?>(null, outputRank - 1 - outputDims.Length), .. outputDims.Select(d => (int?)d)]),
                null, UseBias ? biasAxes : null, KernelInitializer, BiasInitializer, KernelRegularizer, BiasRegularizer, null,
                KernelConstraint, BiasConstraint) { Dtype = Dtype, Trainable = Trainable };
        }
        var queryDense = Projection(qr - 1, 1, [NumHeads, KeyDim]);
        var keyDense = Projection(qr - 1, 1, [NumHeads, KeyDim]);
        var valueDense = Projection(qr - 1, 1, [NumHeads, ValueDim]);
        var projected = queryDense.ComputeOutputShape(query);
        var outputDenseInput = projected.With(-1, ValueDim);
        var outputDims = OutputShape.Count > 0 ? OutputShape.ToArray()
            : [query[^1] ?? throw new ShapeException(this, inputs, query.Rank - 1,
                "the query's last dimension must be defined to create the output projection. Found None.")];
        var outputDense = Projection(qr - 1, 2, outputDims);
        // Keras's _build_attention on the projected rank (batch, …, heads, channels).
        var rank = qr + 1;
        int[] axes;
        if (AttentionAxes.Count == 0) axes = [.. Enumerable.Range(1, rank - 3)];
        else
        {
            axes = [.. AttentionAxes.Select(a => a >= 0 ? a : rank - 1 + a)];
            foreach (var a in axes)
                if (a < 1 || a > rank - 3)
                    throw new ShapeException(this, inputs, null,
                        $"attentionAxes={AttentionAxes} must name axes of the query between 1 and {rank - 3} (not the batch or the feature axis); got {a}.");
            if (axes.Distinct().Count() != axes.Length)
                throw new ShapeException(this, inputs, null, $"attentionAxes={AttentionAxes} names an axis twice.");
        }
        var (dot, combine, scoresRank) = AttentionEquation(rank, axes);
        int[] norm = [.. Enumerable.Range(scoresRank - axes.Length, axes.Length)];
        // The scores: (batch, other axes…, heads, query attention axes…, key attention axes…).
        var batchDims = Enumerable.Range(1, rank - 2).Where(i => !axes.Contains(i)).ToArray();
        int?[] projectedQuery = [null, .. query.Take(query.Rank - 1), NumHeads];
        int?[] projectedKey = [null, .. key.Take(key.Rank - 1), NumHeads];
        var scores = new Shape([.. batchDims.Select(i => projectedQuery[i]), .. axes.Select(i => projectedQuery[i]), .. axes.Select(i => projectedKey[i])]);
        if (mask is not null)
        {
            // (batch, other axes…, query axes…, key axes…): the scores without the heads axis.
            var expected = new Shape([.. scores.Take(batchDims.Length - 1), .. scores.Skip(batchDims.Length)]);
            if (mask.Rank != expected.Rank)
                throw new ShapeException(this, inputs, null,
                    $"the attention_mask must have per-sample shape {expected.ToSampleString()} (the query's then the key's attention axes); got {mask.ToSampleString()}.");
            for (var i = 0; i < mask.Rank; i++)
                if (mask[i] is { } m && m != 1 && expected[i] is { } e && m != e)
                    throw new ShapeException(this, inputs, null,
                        $"the attention_mask {mask.ToSampleString()} does not broadcast to {expected.ToSampleString()} (axis {i + 1}: {m} vs {e}).");
        }
        return new AttentionPlan(query, value, key, mask, queryDense, keyDense, valueDense, outputDense, outputDenseInput,
            axes, dot, combine, norm, scores);
    }

    private static char Letter(int i) => (char)('a' + i);

    /// <summary>Keras's <c>_build_proj_equation</c>: the einsum, bias axes and output rank of a projection.</summary>
    internal static (string Equation, string BiasAxes, int OutputRank) ProjectionEquation(int freeDims, int boundDims, int outputDims)
    {
        string input = "", kernel = "", output = "", bias = "";
        for (var i = 0; i < freeDims; i++) { input += Letter(i); output += Letter(i); }
        for (var i = 0; i < boundDims; i++) { var c = Letter(freeDims + i); input += c; kernel += c; }
        for (var i = 0; i < outputDims; i++) { var c = Letter(freeDims + boundDims + i); kernel += c; output += c; bias += c; }
        return ($"{input},{kernel}->{output}", bias, output.Length);
    }

    /// <summary>Keras's <c>_build_attention_equation</c>: the query–key product and the combination with the values.</summary>
    internal static (string DotProduct, string Combine, int ScoresRank) AttentionEquation(int rank, int[] axes)
    {
        var target = string.Concat(Enumerable.Range(0, rank).Select(Letter));
        var batchDims = Enumerable.Range(0, rank).Where(i => !axes.Contains(i) && i != rank - 1).ToArray();
        var offset = rank;
        var source = "";
        for (var i = 0; i < rank; i++)
            source += batchDims.Contains(i) || i == rank - 1 ? target[i] : Letter(offset++);
        var product = string.Concat(batchDims.Select(i => target[i]).Concat(axes.Select(i => target[i])).Concat(axes.Select(i => source[i])));
        return ($"{source},{target}->{product}", $"{product},{source}->{target}", product.Length);
    }
}

/// <summary>
/// Dot-product attention (Keras <c>Attention</c>, Luong-style): <c>softmax(query · keyᵀ) · value</c>, with an optional
/// learned scalar scale, or the <c>concat</c> score <c>Σ tanh(query + key)</c>.
/// </summary>
/// <remarks>
/// <para>Inputs <c>[query, value]</c> or <c>[query, value, key]</c> of per-sample shapes (Tq, dim), (Tv, dim), (Tv, dim)
/// (the key defaults to the value). Output (Tq, value's dim). Masks as Keras: the value's mask (Tv) keeps keys out of the
/// softmax (−1e9 on their scores, 65504 in float16), the query's mask zeroes the output's masked steps and is the output's
/// mask. <see cref="UseCausalMask"/> and <see cref="ReturnAttentionScores"/> are Keras's call arguments, here init-only
/// properties (see <see cref="MultiHeadAttention"/>); with the scores the layer has a second output (Tq, Tv).</para>
/// <para>Weights: <c>scale</c> (a scalar, ones) with <see cref="UseScale"/>, <c>concat_score_weight</c> (a scalar, ones)
/// with <see cref="ScoreMode"/> <c>concat</c>.</para>
/// </remarks>
public sealed record Attention : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Keras defaults: no scale, <c>dot</c> scores, no dropout.</summary>
    public Attention(bool useScale = false, string scoreMode = "dot", double dropout = 0.0, int? seed = null)
    {
        UseScale = useScale;
        ScoreMode = scoreMode;
        Dropout = dropout;
        Seed = seed;
    }

    /// <summary>Whether a learned scalar <c>scale</c> multiplies the scores.</summary>
    public bool UseScale { get; init; }

    /// <summary><c>dot</c> (query·key) or <c>concat</c> (Σ tanh(query + key)).</summary>
    public string ScoreMode
    {
        get;
        init => field = value is "dot" or "concat" ? value : throw ArgumentError("scoreMode", value, "one of {\"dot\", \"concat\"}");
    }

    /// <summary>The dropout rate on the attention probabilities, in [0, 1].</summary>
    public double Dropout { get; init => field = value is >= 0 and <= 1 ? value : throw ArgumentError("dropout", value, "a float value between 0 and 1"); }

    /// <summary>Seed of the attention dropout; <c>null</c> uses the call's generator.</summary>
    public int? Seed { get; init; }

    /// <summary>Keras's call argument <c>use_causal_mask</c> (see <see cref="MultiHeadAttention.UseCausalMask"/>).</summary>
    public bool UseCausalMask { get; init; }

    /// <summary>Keras's call argument <c>return_attention_scores</c>: a second output, the (Tq, Tv) probabilities.</summary>
    public bool ReturnAttentionScores { get; init; }

    /// <inheritdoc />
    public override int OutputCount => ReturnAttentionScores ? 2 : 1;

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => throw ShapeError(input, null, AttentionShapes.ListMessage(ClassName));

    /// <inheritdoc />
    public override Shape ComputeOutputShape(IReadOnlyList<Shape> inputs) => ComputeOutputShapes(inputs)[0];

    /// <inheritdoc />
    public override IReadOnlyList<Shape> ComputeOutputShapes(IReadOnlyList<Shape> inputs) =>
        AttentionShapes.Outputs(this, inputs, ReturnAttentionScores, ScoreMode == "dot");

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(IReadOnlyList<Shape> inputs)
    {
        AttentionShapes.Outputs(this, inputs, false, ScoreMode == "dot");
        var specs = new List<ParameterSpec>();
        if (UseScale) specs.Add(new ParameterSpec("scale", new Shape(Array.Empty<int>()), new Ones()));
        if (ScoreMode == "concat") specs.Add(new ParameterSpec("concat_score_weight", new Shape(Array.Empty<int>()), new Ones()));
        return specs;
    }
}

/// <summary>
/// Additive attention (Keras <c>AdditiveAttention</c>, Bahdanau-style): scores <c>Σ scale · tanh(query + key)</c> over the
/// features, then <c>softmax(scores) · value</c>.
/// </summary>
/// <remarks>
/// Inputs, masks, <see cref="UseCausalMask"/> and <see cref="ReturnAttentionScores"/> as <see cref="Attention"/>. Weight:
/// <c>scale</c> of shape (dim,), <c>glorot_uniform</c>, with <see cref="UseScale"/> (the default).
/// </remarks>
public sealed record AdditiveAttention : Layer
{
    /// <inheritdoc />
    public override bool SupportsMasking => true;

    /// <summary>Keras defaults: a learned scale, no dropout.</summary>
    public AdditiveAttention(bool useScale = true, double dropout = 0.0, int? seed = null)
    {
        UseScale = useScale;
        Dropout = dropout;
        Seed = seed;
    }

    /// <summary>Whether a learned (dim,) <c>scale</c> weighs the features of tanh(query + key).</summary>
    public bool UseScale { get; init; }

    /// <summary>The dropout rate on the attention probabilities, in [0, 1].</summary>
    public double Dropout { get; init => field = value is >= 0 and <= 1 ? value : throw ArgumentError("dropout", value, "a float value between 0 and 1"); }

    /// <summary>Seed of the attention dropout; <c>null</c> uses the call's generator.</summary>
    public int? Seed { get; init; }

    /// <summary>Keras's call argument <c>use_causal_mask</c> (see <see cref="MultiHeadAttention.UseCausalMask"/>).</summary>
    public bool UseCausalMask { get; init; }

    /// <summary>Keras's call argument <c>return_attention_scores</c>: a second output, the (Tq, Tv) probabilities.</summary>
    public bool ReturnAttentionScores { get; init; }

    /// <inheritdoc />
    public override int OutputCount => ReturnAttentionScores ? 2 : 1;

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => throw ShapeError(input, null, AttentionShapes.ListMessage(ClassName));

    /// <inheritdoc />
    public override Shape ComputeOutputShape(IReadOnlyList<Shape> inputs) => ComputeOutputShapes(inputs)[0];

    /// <inheritdoc />
    public override IReadOnlyList<Shape> ComputeOutputShapes(IReadOnlyList<Shape> inputs) =>
        AttentionShapes.Outputs(this, inputs, ReturnAttentionScores, false);

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(IReadOnlyList<Shape> inputs)
    {
        AttentionShapes.Outputs(this, inputs, false, false);
        if (!UseScale) return [];
        var dim = inputs[0][^1] ?? throw new ShapeException(this, inputs, inputs[0].Rank - 1,
            "the query's last dimension must be defined to create the layer's weights. Found None.");
        return [new ParameterSpec("scale", new Shape(dim), new GlorotUniform())];
    }
}

/// <summary>The shape rules Attention and AdditiveAttention share (Keras's <c>_validate_inputs</c> and
/// <c>compute_output_shape</c>).</summary>
internal static class AttentionShapes
{
    public static string ListMessage(string layer) =>
        $"{layer} layer must be called on a list of inputs, namely [query, value] or [query, value, key]; got one input.";

    public static IReadOnlyList<Shape> Outputs(Layer layer, IReadOnlyList<Shape> inputs, bool scores, bool dot)
    {
        ArgumentNullException.ThrowIfNull(inputs);
        if (inputs.Count is < 2 or > 3)
            throw new ShapeException(layer, inputs, null,
                $"{layer.ClassName} layer accepts inputs list of length 2 or 3, namely [query, value] or [query, value, key]. Received length: {inputs.Count}.");
        var (query, value) = (inputs[0], inputs[1]);
        var key = inputs.Count > 2 ? inputs[2] : value;
        if (query.Rank != 2 || value.Rank != 2 || key.Rank != 2)
            throw new ShapeException(layer, inputs, null, "query, value and key must each have rank 3 counting the batch axis: (batch, steps, features).");
        static bool Differ(int? a, int? b) => a is { } x && b is { } y && x != y;
        if (Differ(value[0], key[0]))
            throw new ShapeException(layer, inputs, 0, $"value and key must have the same number of steps; got {value} and {key}.");
        // The scores add (or multiply) query and key features: their last axes must agree.
        if (Differ(query[1], key[1]))
            throw new ShapeException(layer, inputs, 1,
                $"the query's and the key's last dimensions must be equal{(dot ? " for dot-product scores" : " (query + key)")}; got {query} and {key}.");
        var output = new Shape(query[0], value[1]);
        return scores ? [output, new Shape(query[0], key[0])] : [output];
    }
}

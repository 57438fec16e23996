using Functional.Shapes;
using Functional.Functions;
using System.Text.RegularExpressions;

namespace Functional.Layers;

/// <summary>
/// A dense layer whose computation is an einsum of the input and a kernel (Keras <c>EinsumDense</c>):
/// <c>activation(einsum(equation, x, kernel) + bias)</c>.
/// </summary>
/// <remarks>
/// <para>The equation has Keras's forms <c>ab,bc->ac</c>, <c>...ab,bc->...ac</c> or <c>ab...,bc->ac...</c>: the input's
/// letters count the batch axis (the first letter, or part of a leading ellipsis). <see cref="OutputShape"/> is the output
/// shape without the batch axis and without the axes an ellipsis stands for; an entry may be <c>None</c> (null) where the
/// input gives it.</para>
/// <para>The kernel's shape follows the equation's weight letters: a letter of the input takes the input's size, a letter of
/// the output the output's. <see cref="BiasAxes"/> names output letters to add a bias over: the bias spans the output from
/// the first of them to the end, size 1 on the letters not named. E.g. <c>EinsumDense("abc,cd->abd", (null, 64),
/// biasAxes: "d")</c> on (32, 128) has kernel (128, 64), bias (64,) and output (32, 64).</para>
/// </remarks>
public sealed partial record EinsumDense : Layer
{
    /// <summary>The <c>kernel</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Kernel => new(KernelInitializer, KernelRegularizer, KernelConstraint);
    /// <summary>The <c>bias</c> weight's initializer, regularizer and constraint as one value.</summary>
    public WeightOptions Bias => new(BiasInitializer, BiasRegularizer, BiasConstraint);

    /// <summary>Keras defaults: no activation, no bias, <c>glorot_uniform</c> kernel, <c>zeros</c> bias.</summary>
    /// <param name="equation">The einsum, e.g. <c>"ab,bc->ac"</c> or <c>"...x,xy->...y"</c>.</param>
    /// <param name="outputShape">The output shape without the batch axis and the ellipsis axes; null entries are unknown.</param>
    /// <param name="activation">Applied to the output; linear by default.</param>
    /// <param name="biasAxes">Output letters to add a bias over; none by default.</param>
    /// <param name="kernelInitializer">The kernel's initializer.</param>
    /// <param name="biasInitializer">The bias's initializer.</param>
    /// <param name="kernelRegularizer">Penalty on the kernel.</param>
    /// <param name="biasRegularizer">Penalty on the bias.</param>
    /// <param name="activityRegularizer">Penalty on the output.</param>
    /// <param name="kernelConstraint">Constraint on the kernel.</param>
    /// <param name="biasConstraint">Constraint on the bias.</param>
    public EinsumDense(string equation, Shape outputShape, ActivationFunction? activation = null, string? biasAxes = null,
        Initializer? kernelInitializer = null, Initializer? biasInitializer = null,
        Regularizer? kernelRegularizer = null, Regularizer? biasRegularizer = null, Regularizer? activityRegularizer = null,
        Constraint? kernelConstraint = null, Constraint? biasConstraint = null)
    {
        Equation = equation;
        OutputShape = outputShape;
        Activation = activation ?? ActivationFunction.Linear;
        BiasAxes = biasAxes;
        KernelInitializer = kernelInitializer ?? new GlorotUniform();
        BiasInitializer = biasInitializer ?? new Zeros();
        KernelRegularizer = kernelRegularizer;
        BiasRegularizer = biasRegularizer;
        ActivityRegularizer = activityRegularizer;
        KernelConstraint = kernelConstraint;
        BiasConstraint = biasConstraint;
        ValidateBiasAxes();
        EndConstruction();
    }

    /// <summary>The einsum equation (Keras's <c>equation</c>).</summary>
    public string Equation
    {
        get;
        init
        {
            field = value is not null && Parse(value) is not null ? value
                : throw ArgumentError("equation", value,
                    "an einsum of the form [X],[Y]->[Z], ...[X],[Y]->...[Z] or [X]...,[Y]->[Z]... (letters a-z, A-Z), " +
                    "whose output letters each appear in the input or the weight and whose weight letters each appear in the input or the output");
            Recheck(ValidateBiasAxes);
        }
    }

    /// <summary>Keras's <c>output_shape</c>: the output without the batch axis and the ellipsis axes; null = unknown.</summary>
    public Shape OutputShape
    {
        get;
        init => field = value is not null && value.All(d => d is null or > 0) ? value
            : throw ArgumentError("outputShape", value?.ToSampleString(), "a tuple of positive integers or None");
    }

    /// <summary>Applied to the output; <c>linear</c> by default.</summary>
    public ActivationFunction Activation { get; init => field = value ?? throw ArgumentError("activation", null, "an activation"); }

    /// <summary>Output letters of <see cref="Equation"/> to add a bias over (Keras's <c>bias_axes</c>); null for no bias.</summary>
    public string? BiasAxes { get; init { field = value; Recheck(ValidateBiasAxes); } }

    /// <summary>Kernel initializer; <c>glorot_uniform</c> by default.</summary>
    public Initializer KernelInitializer { get; init => field = value ?? throw ArgumentError("kernelInitializer", null, "an initializer"); }

    /// <summary>Bias initializer; <c>zeros</c> by default.</summary>
    public Initializer BiasInitializer { get; init => field = value ?? throw ArgumentError("biasInitializer", null, "an initializer"); }

    /// <summary>Penalty on the kernel; none by default.</summary>
    public Regularizer? KernelRegularizer { get; init; }

    /// <summary>Penalty on the bias; none by default.</summary>
    public Regularizer? BiasRegularizer { get; init; }

    /// <summary>Constraint on the kernel; none by default.</summary>
    public Constraint? KernelConstraint { get; init; }

    /// <summary>Constraint on the bias; none by default.</summary>
    public Constraint? BiasConstraint { get; init; }

    private void ValidateBiasAxes()
    {
        if (BiasAxes is null) return;
        var spec = Parse(Equation)!;
        if (BiasAxes.Length == 0 || BiasAxes.Any(c => !spec.Output.Contains(c)) || BiasAxes.Distinct().Count() != BiasAxes.Length)
            throw ArgumentError("biasAxes", BiasAxes,
                $"distinct letters of the output spec '{spec.Output}' of equation '{Equation}' (Keras: \"Bias dimension was requested, but is not part of the output spec\")");
    }

    /// <summary>The parts of an equation: input, weight and output letters, and where an ellipsis stands.</summary>
    internal sealed record Spec(string Input, string Weight, string Output, bool LeftElided, bool RightElided);

    internal static Spec? Parse(string equation)
    {
        var s = equation.Replace(" ", "").Replace("...", "0");
        Spec? spec = null;
        if (Plain().Match(s) is { Success: true } m) spec = new(m.Groups[1].Value, m.Groups[2].Value, m.Groups[3].Value, false, false);
        else if (Left().Match(s) is { Success: true } l) spec = new(l.Groups[1].Value, l.Groups[2].Value, l.Groups[3].Value, true, false);
        else if (Right().Match(s) is { Success: true } r) spec = new(r.Groups[1].Value, r.Groups[2].Value, r.Groups[3].Value, false, true);
        if (spec is null) return null;
        if (spec.Output.Any(c => !spec.Input.Contains(c) && !spec.Weight.Contains(c))) return null;
        if (spec.Weight.Any(c => !spec.Input.Contains(c) && !spec.Output.Contains(c))) return null;
        if (new[] { spec.Input, spec.Weight, spec.Output }.Any(p => p.Distinct().Count() != p.Length)) return null;
        return spec;
    }

    [GeneratedRegex("^([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$")] private static partial Regex Plain();
    [GeneratedRegex("^0([a-zA-Z]+),([a-zA-Z]+)->0([a-zA-Z]+)$")] private static partial Regex Left();
    [GeneratedRegex("^([a-zA-Z]{2,})0,([a-zA-Z]+)->([a-zA-Z]+)0$")] private static partial Regex Right();

    /// <summary>
    /// Keras's <c>_analyze_einsum_string</c> for a per-sample input shape: the kernel's shape, the bias's (null without
    /// bias) and the full output shape with the batch axis first. Where the output shape leaves a dimension None and the
    /// input gives it (a shared letter), the input's size is taken, as the einsum computes it.
    /// </summary>
    internal (int?[] Kernel, int?[]? Bias, int?[] Output) Analyze(Shape input)
    {
        var spec = Parse(Equation)!;
        int?[] full = [null, .. input];
        var elided = full.Length - spec.Input.Length;
        if (spec.LeftElided || spec.RightElided ? elided < 0 : elided != 0)
            throw ShapeError(input, null,
                $"equation '{Equation}' needs an input of rank {(spec.LeftElided || spec.RightElided ? "at least " : "")}{spec.Input.Length} counting the batch axis; got rank {full.Length}.");
        var output = new List<int?> { full[0] };
        if (spec.LeftElided) output.AddRange(full.Skip(1).Take(Math.Max(elided - 1, 0)));
        output.AddRange(OutputShape);
        if (spec.RightElided) output.AddRange(full.Skip(full.Length - elided));
        // Where each letter sits in the full input and output.
        var inputAt = new Dictionary<char, int>();
        for (var i = 0; i < spec.Input.Length; i++) inputAt[spec.Input[i]] = spec.LeftElided ? i + elided : i;
        var outputOffset = spec.LeftElided ? elided : 0;
        var expectedRank = spec.Output.Length + (spec.LeftElided || spec.RightElided ? elided : 0);
        if (output.Count != expectedRank)
            throw ShapeError(input, null,
                $"outputShape={OutputShape.ToSampleString()} has {OutputShape.Rank} entries, but equation '{Equation}' on this input gives an output of rank {expectedRank} " +
                $"counting the batch axis, so outputShape needs {expectedRank - output.Count + OutputShape.Rank} (the batch axis and ellipsis axes excluded).");
        var outputAt = new Dictionary<char, int>();
        for (var i = 0; i < spec.Output.Length; i++) outputAt[spec.Output[i]] = i + outputOffset;
        foreach (var c in spec.Input)
            if (outputAt.TryGetValue(c, out var o))
            {
                var inDim = full[inputAt[c]];
                if (output[o] is { } given && inDim is { } actual && given != actual)
                    throw ShapeError(input, inputAt[c] - 1,
                        $"input shape and output shape do not match at shared dimension '{c}'. Input shape is {actual}, and output shape is {given}.");
                if (o > 0) output[o] ??= inDim;
            }
        var kernel = spec.Weight.Select(c => inputAt.TryGetValue(c, out var i) ? full[i] : output[outputAt[c]]).ToArray();
        int?[]? bias = null;
        if (BiasAxes is not null)
        {
            var first = BiasAxes.Min(c => spec.Output.IndexOf(c));
            var b = new List<int?>();
            for (var i = first; i < spec.Output.Length; i++)
                b.Add(BiasAxes.Contains(spec.Output[i]) ? output[i + outputOffset] : 1);
            if (spec.RightElided) b.AddRange(Enumerable.Repeat<int?>(1, elided));
            bias = [.. b];
        }
        return (kernel, bias, [.. output]);
    }

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input) => new(Analyze(input).Output.Skip(1));

    /// <inheritdoc />
    public override IReadOnlyList<ParameterSpec> Parameters(Shape input)
    {
        var (kernel, bias, _) = Analyze(input);
        var spec = Parse(Equation)!;
        Shape Known(int?[] dims, string what) => dims.All(d => d is not null) ? new Shape(dims)
            : throw ShapeError(input, null,
                $"the {what} shape {new Shape(dims).ToSampleString()} (weight letters '{spec.Weight}') must be fully defined to create the layer's weights; " +
                "give the dimension in the input shape or in outputShape.");
        var specs = new List<ParameterSpec> { Kernel.Declare("kernel", Known(kernel, "kernel")) };
        if (bias is not null) specs.Add(Bias.Declare("bias", Known(bias, "bias")));
        return specs;
    }
}

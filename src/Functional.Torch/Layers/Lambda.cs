using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using Functional.Torch.Native;
using System.Runtime.CompilerServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Layers;

/// <summary>
/// Wraps a function on tensors as a layer (Keras <c>Lambda</c>). The function receives the batch in the Keras layout
/// (batch first, <c>channels_last</c> unless the model says otherwise) and must keep the batch dimension. No parameters.
/// </summary>
/// <remarks>
/// <para>The output shape comes from, in order: a declared per-sample <see cref="OutputShape"/>; a shape function
/// <see cref="OutputShapeFunction"/> from the per-sample input shape to the per-sample output shape (Keras passes the
/// shape with its batch dimension; here both exclude it); or, as Keras does when neither is given, by running the
/// function — here on a CPU batch of two zero samples, without gradients. A function that cannot run on zeros, or whose
/// output shape depends on the values, needs one of the first two.</para>
/// <para>Two Lambda records are equal only when they hold the same function object (and the same shape arguments):
/// functions compare by reference, not by what they compute.</para>
/// <para>Lambda lives in Functional.Torch because its function works on TorchSharp tensors.</para>
/// </remarks>
public sealed record Lambda : Layer
{
    /// <summary>Wraps <paramref name="function"/>; <paramref name="outputShape"/> (per-sample) is inferred by running it when omitted.</summary>
    public Lambda(Func<Tensor, Tensor> function, Shape? outputShape = null)
    {
        Function = function;
        OutputShape = outputShape;
    }

    /// <summary>Wraps <paramref name="function"/> whose per-sample output shape is <paramref name="outputShape"/>(per-sample input shape).</summary>
    public Lambda(Func<Tensor, Tensor> function, Func<Shape, Shape> outputShape)
    {
        Function = function;
        OutputShapeFunction = outputShape ?? throw ArgumentError("outputShape", null, "a shape or a function from the input shape to the output shape");
    }

    /// <summary>The function applied to each batch.</summary>
    public Func<Tensor, Tensor> Function { get; init => field = value ?? throw ArgumentError("function", null, "a function from tensor to tensor"); }

    /// <summary>The declared per-sample output shape, if any.</summary>
    public Shape? OutputShape { get; init; }

    /// <summary>The per-sample output shape as a function of the per-sample input shape, if given.</summary>
    public Func<Shape, Shape>? OutputShapeFunction { get; init; }

    /// <summary>The number of samples in the dummy batch used to infer the output shape.</summary>
    public const int InferenceBatch = 2;

    /// <inheritdoc />
    public override Shape ComputeOutputShape(Shape input)
    {
        if (OutputShape is { } declared) return declared;
        if (OutputShapeFunction is { } f)
        {
            Shape? result;
            try { result = f(input); }
            catch (Exception e) when (e is not ShapeException)
            {
                throw ShapeError(input, null, $"the output shape function failed: {e.Message}");
            }
            return result ?? throw ShapeError(input, null, "the output shape function returned null.");
        }
        return InferByRunning(input);
    }

    // Keras's torch backend infers a function's output with unknown input dimensions by running it twice, with the
    // unknown sizes set to 83 and then 89: output dimensions that differ between the runs are unknown.
    private Shape InferByRunning(Shape input)
    {
        if (input.IsFullyKnown) return RunOnce(input);
        var a = RunOnce(new Shape(input.Select(d => d ?? 83)));
        var b = RunOnce(new Shape(input.Select(d => d ?? 89)));
        if (a.Rank != b.Rank)
            throw ShapeError(input, null, $"the function returns outputs of different ranks for different input sizes ({a} and {b}). Pass the outputShape argument.");
        return new Shape(a.Select((d, i) => d == b[i] ? d : null));
    }

    private Shape RunOnce(Shape input)
    {
        LibTorch.EnsureLoaded();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long[] outShape;
        try
        {
            var x = zeros(input.WithBatch(InferenceBatch), ScalarType.Float32, CPU);
            var y = Function(x) ?? throw new InvalidOperationException("the function returned null");
            outShape = y.shape;
        }
        catch (Exception e) when (e is not ShapeException)
        {
            throw ShapeError(input, null,
                $"could not infer the output shape by running the function on a dummy CPU batch of shape ({string.Join(", ", input.WithBatch(InferenceBatch))}): " +
                $"{e.Message} Pass the outputShape argument.");
        }
        if (outShape.Length == 0 || outShape[0] != InferenceBatch)
            throw ShapeError(input, null,
                $"the function must keep the batch dimension first; on a batch of {InferenceBatch} it returned shape ({string.Join(", ", outShape)}). Pass the outputShape argument.");
        if (outShape.Skip(1).Any(d => d <= 0 || d > int.MaxValue))
            throw ShapeError(input, null, $"the function returned shape ({string.Join(", ", outShape)}), which has an empty or oversized dimension.");
        return new Shape(outShape.Skip(1).Select(d => (int)d));
    }

    /// <summary>Equal when the base configuration matches and both hold the same function and shape-function objects.</summary>
    public bool Equals(Lambda? other) =>
        other is not null && base.Equals(other) && ReferenceEquals(Function, other.Function)
        && ReferenceEquals(OutputShapeFunction, other.OutputShapeFunction) && Equals(OutputShape, other.OutputShape);

    /// <inheritdoc />
    public override int GetHashCode() =>
        HashCode.Combine(base.GetHashCode(), RuntimeHelpers.GetHashCode(Function),
            OutputShapeFunction is null ? 0 : RuntimeHelpers.GetHashCode(OutputShapeFunction), OutputShape);
}

using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using static TorchSharp.torch;

namespace Functional.Torch.Building;

/// <summary>
/// The padding a windowed layer (convolution or pooling) applies in one call, from the spatial lengths of that call's
/// input (<see cref="Window.Pads"/>), so one built layer runs on inputs of any size. The plan for the last lengths seen is
/// kept (an immutable value swapped atomically, so concurrent calls are safe): a model fed one size computes it once.
/// </summary>
internal sealed class CallPadding(Window window)
{
    private sealed record Plan(long[] Spatial, (int Before, int After)[] Pads, long[] Symmetric, long[]? Explicit);

    private Plan? last;

    /// <summary>The padding for <paramref name="x"/>, laid out <c>(batch, channels, spatial…)</c>: symmetric amounts per axis
    /// (for a convolution to take itself) and, when any axis pads more after than before, the explicit <c>F.pad</c> list
    /// (last axis first) with zero symmetric amounts.</summary>
    public (long[] Symmetric, long[]? Explicit) For(Tensor x)
    {
        var plan = PlanFor(x);
        return (plan.Symmetric, plan.Explicit);
    }

    /// <summary>The explicit <c>F.pad</c> list (last axis first) for <paramref name="x"/>, or null when nothing is padded.</summary>
    public long[]? ExplicitFor(Tensor x)
    {
        var plan = PlanFor(x);
        return plan.Pads.All(p => p.Before == 0 && p.After == 0)
            ? null
            : plan.Pads.Reverse().SelectMany(p => new long[] { p.Before, p.After }).ToArray();
    }

    private Plan PlanFor(Tensor x)
    {
        var shape = x.shape;
        var plan = last;
        if (plan is not null && plan.Spatial.AsSpan().SequenceEqual(shape.AsSpan(2))) return plan;
        var spatial = shape[2..];
        var pads = window.Pads(spatial);
        var explicitPads = Window.Explicit(pads, out var symmetric);
        plan = new Plan(spatial, pads, explicitPads is null ? symmetric : new long[pads.Length], explicitPads);
        last = plan;
        return plan;
    }
}

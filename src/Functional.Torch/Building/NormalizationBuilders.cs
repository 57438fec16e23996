using Functional.Shapes;
using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Functional.Torch.Building;

/// <summary>
/// BatchNormalization for any axis. Computed by hand rather than with <c>F.batch_norm</c>'s running-stat update, because
/// Keras updates the moving variance with the <em>biased</em> batch variance and momentum applies to the old value
/// (PyTorch uses the unbiased variance and <c>momentum = 1 − Keras's</c>). The moving statistics are non-trainable
/// parameters: they follow the module to its device and are saved with the weights.
/// </summary>
/// <remarks>A <c>channels_last</c> layer on spatial data (axis −1, per-sample rank ≥ 2) computes in the channels-first layout
/// with channels on tensor axis 1, so conv → batch norm → conv runs need no permutes; other axes compute in the logical layout.
/// With renorm, training follows Keras 3's <c>_renorm_correction_and_moments</c>, <c>_compose_transforms</c> and
/// <c>_update_renorm_statistics</c> (see <see cref="BatchNormalization.Renorm"/>). <c>synchronized</c> changes nothing on one device.</remarks>
internal sealed class BuiltBatchNormalization : BuiltLayer
{
    private readonly Parameter? gamma, beta;
    private readonly Parameter moving_mean, moving_variance;
    private readonly Parameter? moving_stddev, renorm_mean, renorm_stddev;   // renorm only
    private readonly BatchNormalization bn;
    private readonly bool channelsFirst;
    private readonly int sampleAxis;

    public BuiltBatchNormalization(BatchNormalization layer, Shape input, BuildContext context) : base(layer, input)
    {
        bn = layer;
        layer.Parameters(input);   // the input must suit the weights (a shape error naming the layer otherwise)
        sampleAxis = layer.ChannelAxis(input);
        channelsFirst = input.Rank >= 2 && sampleAxis == input.Rank - 1;
        if (layer.Scale) gamma = DeclareWeight("gamma", context);
        if (layer.Center) beta = DeclareWeight("beta", context);
        moving_mean = DeclareWeight("moving_mean", context);
        moving_variance = DeclareWeight("moving_variance", context);
        if (layer.Renorm)
        {
            // Keras: both standard deviations start at √(a draw of the moving-variance initializer).
            moving_stddev = DeclareWeight("moving_stddev", context);
            renorm_mean = DeclareWeight("renorm_mean", context);
            renorm_stddev = DeclareWeight("renorm_stddev", context);
            using (no_grad())
            {
                moving_stddev.sqrt_();
                renorm_stddev.sqrt_();
            }
        }
        RegisterComponents();
    }

    public override PhysicalLayout Layout => channelsFirst ? PhysicalLayout.ChannelsFirst : PhysicalLayout.Logical;

    /// <summary>The tensor axis holding the channels in the layout this module computes in.</summary>
    private long TensorAxis => channelsFirst ? 1 : sampleAxis + 1;

    public override Tensor forward(Tensor x) => Normalize(x, training, null);

    // The call says whether it trains (the module's mode is not used).
    protected override Tensor Call(IReadOnlyList<Tensor> inputs, ForwardContext context) => Call(inputs, [], context);

    // Keras: in training, a mask (one axis fewer than the input) weights the batch moments, so masked steps do not count.
    protected override Tensor Call(IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?> masks, ForwardContext context)
    {
        if (inputs.Count != 1)
            throw new ArgumentException($"{Layer.Describe()} takes one input; received {inputs.Count}.", nameof(inputs));
        var mask = masks.Count > 0 ? masks[0] : null;
        if (mask is not null && mask.dim() != inputs[0].dim() - 1)
            throw new ArgumentException(
                $"{Layer.Describe()}: the mask provided should be one dimension less than the inputs. Received: mask.shape=({string.Join(", ", mask.shape)}), " +
                $"inputs.shape=({string.Join(", ", inputs[0].shape)}).", nameof(masks));
        return Normalize(inputs[0], context.Training, mask);
    }

    private Tensor Normalize(Tensor x, bool train, Tensor? mask)
    {
        using var scope = NewDisposeScope();
        var axis = TensorAxis;
        var broadcast = Enumerable.Repeat(1L, (int)x.dim()).ToArray();
        broadcast[axis] = x.shape[axis];
        Tensor mean, variance;
        Tensor? scale = gamma?.reshape(broadcast), offset = beta?.reshape(broadcast);
        // Keras: `training and self.trainable` — a frozen BatchNormalization runs in inference mode.
        if (train && bn.Trainable)
        {
            var reduce = Enumerable.Range(0, (int)x.dim()).Where(d => d != axis).Select(d => (long)d).ToArray();
            if (mask is null)
            {
                mean = x.mean(reduce, keepdim: true);
                variance = (x - mean).square().mean(reduce, keepdim: true);   // biased, as Keras's moments
            }
            else
            {
                // Keras's _moments with a mask: weights w on the channel axis; mean = Σw·x / (Σw + ε), variance =
                // Σw·(w·x − mean)² / (Σw + ε), with Keras's backend epsilon ε = 1e-7.
                var w = mask.unsqueeze(axis).to_type(x.dtype);
                var count = w.sum(reduce, keepdim: true) + 1e-7;
                var weighted = w * x;
                mean = weighted.sum(reduce, keepdim: true) / count;
                variance = (w * (weighted - mean).square()).sum(reduce, keepdim: true) / count;
            }
            if (bn.Renorm) (scale, offset) = Renormalize(mean, variance, broadcast, scale, offset);
            else
                using (no_grad())
                {
                    var m = bn.Momentum;
                    moving_mean.mul_(m).add_(mean.detach().reshape(-1), alpha: 1 - m);
                    moving_variance.mul_(m).add_(variance.detach().reshape(-1), alpha: 1 - m);
                }
        }
        else
        {
            mean = moving_mean.reshape(broadcast);
            variance = moving_variance.reshape(broadcast);
        }
        var inv = (variance + bn.Epsilon).rsqrt();
        if (scale is not null) inv = inv * scale;
        var y = (x - mean) * inv;
        if (offset is not null) y = y + offset;
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Batch renormalization in training (inside the caller's dispose scope): the correction <c>r</c>, <c>d</c> from the
    /// renorm statistics before this batch, folded into the scale and offset as Keras's <c>_compose_transforms</c> does
    /// (<c>(x̂·r + d)·γ + β = x̂·(r·γ) + (d·γ + β)</c>, r and d without gradient); then every statistic is updated.
    /// </summary>
    private (Tensor Scale, Tensor Offset) Renormalize(Tensor mean, Tensor variance, long[] broadcast, Tensor? scale, Tensor? offset)
    {
        var eps = bn.Epsilon;
        Tensor r, d, batchMean, stddev;
        using (no_grad())
        {
            batchMean = mean.detach();
            stddev = (variance.detach() + eps).sqrt();
            var renormStddev = renorm_stddev!.reshape(broadcast).clamp_min(Math.Sqrt(eps));   // avoids dividing by 0 early on
            r = stddev / renormStddev;
            d = (batchMean - renorm_mean!.reshape(broadcast)) / renormStddev;
            if (bn.RenormClipping is { } clip)
            {
                if (clip.RMin is { } rmin) r = r.clamp_min(rmin);
                if (clip.RMax is { } rmax) r = r.clamp_max(rmax);
                if (clip.DMax is { } dmax) d = d.clamp(-dmax, dmax);
            }
        }
        var newScale = scale is null ? r : r * scale;
        var newOffset = scale is null ? d : d * scale;
        if (offset is not null) newOffset = newOffset + offset;
        using (no_grad())
        {
            var rm = bn.RenormMomentum;
            renorm_mean!.mul_(rm).add_(batchMean.reshape(-1), alpha: 1 - rm);
            renorm_stddev!.mul_(rm).add_(stddev.reshape(-1), alpha: 1 - rm);
            var m = bn.Momentum;
            moving_mean.mul_(m).add_(batchMean.reshape(-1), alpha: 1 - m);
            moving_stddev!.mul_(m).add_(stddev.reshape(-1), alpha: 1 - m);
            // Keras derives the inference variance from the standard deviation (relu guards against rounding below 0).
            moving_variance.copy_((moving_stddev.square() - eps).relu());
        }
        return (newScale, newOffset);
    }

}

internal sealed class BatchNormalizationBuilder : LayerBuilder<BatchNormalization>
{
    public override BuiltLayer Build(BatchNormalization layer, Shape input, BuildContext context) =>
        new BuiltBatchNormalization(layer, input, context);
}

/// <summary>
/// LayerNormalization over any axes. γ and β keep Keras's shape (the axes' sizes in the order given) and are reshaped to
/// the broadcast shape over the sorted axes, as Keras's <c>ops.layer_normalization</c> does; trailing axes use
/// <c>F.layer_norm</c>, as Keras's torch backend does.
/// </summary>
internal sealed class BuiltLayerNormalization : BuiltLayer
{
    private readonly Parameter? gamma, beta;
    private readonly LayerNormalization ln;
    private readonly long[] axes;          // sorted tensor axes (batch = 0)
    private readonly long[] broadcast;     // per-sample broadcast shape with the batch axis: 1 except on the axes
    private readonly long[]? normalizedShape;

    public BuiltLayerNormalization(LayerNormalization layer, Shape input, BuildContext context) : base(layer, input)
    {
        ln = layer;
        layer.Parameters(input);   // the input must suit the weights (a shape error naming the layer otherwise)
        var sampleAxes = layer.SampleAxes(input);
        axes = sampleAxes.Order().Select(a => (long)a + 1).ToArray();
        broadcast = Enumerable.Repeat(1L, input.Rank + 1).ToArray();
        foreach (var a in axes) broadcast[a] = input.Known((int)a - 1);   // Parameters(input) required them known
        var trailing = axes.SequenceEqual(Enumerable.Range(input.Rank + 1 - axes.Length, axes.Length).Select(a => (long)a));
        if (trailing && !layer.RmsScaling) normalizedShape = axes.Select(a => (long)input.Known((int)a - 1)).ToArray();
        if (WeightSpecs.Any(w => w.Name == "gamma")) gamma = DeclareWeight("gamma", context);
        if (WeightSpecs.Any(w => w.Name == "beta")) beta = DeclareWeight("beta", context);
        RegisterComponents();
    }


    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor y;
        if (normalizedShape is not null)
        {
            y = F.layer_norm(x, normalizedShape, gamma?.reshape(normalizedShape), beta?.reshape(normalizedShape), ln.Epsilon);
        }
        else if (ln.RmsScaling)
        {
            var variance = x.var(axes, unbiased: false, keepdim: true);
            y = x * (variance + ln.Epsilon).rsqrt();
            if (gamma is not null) y = y * gamma.reshape(broadcast);
        }
        else
        {
            var mean = x.mean(axes, keepdim: true);
            var variance = (x - mean).square().mean(axes, keepdim: true);
            var inv = (variance + ln.Epsilon).rsqrt();
            if (gamma is not null) inv = inv * gamma.reshape(broadcast);
            y = (x - mean) * inv;
            if (beta is not null) y = y + beta.reshape(broadcast);
        }
        return y.MoveToOuterDisposeScope();
    }

}

internal sealed class LayerNormalizationBuilder : LayerBuilder<LayerNormalization>
{
    public override BuiltLayer Build(LayerNormalization layer, Shape input, BuildContext context) =>
        new BuiltLayerNormalization(layer, input, context);
}

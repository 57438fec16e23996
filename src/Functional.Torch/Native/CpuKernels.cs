using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using System.Diagnostics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace Functional.Torch.Native;

/// <summary>How the library chose libtorch's CPU convolution kernels in this process.</summary>
public enum CpuKernelChoice
{
    /// <summary>Not decided yet: libtorch is not loaded.</summary>
    Undecided,
    /// <summary>The check ran and libtorch's default kernels (oneDNN) computed every case correctly; nothing was changed.</summary>
    OneDnnChecked,
    /// <summary>The check found wrong oneDNN results on this CPU; oneDNN is off and libtorch's reference kernels (checked too) are used.</summary>
    ReferenceAfterFailedCheck,
    /// <summary><c>FUNCTIONAL_CPU_KERNELS=reference</c>: oneDNN is off without checking.</summary>
    ReferenceByRequest,
    /// <summary><c>FUNCTIONAL_CPU_KERNELS=onednn</c>: libtorch's defaults are kept without checking (at the user's risk).</summary>
    OneDnnUnchecked,
}

/// <summary>What <see cref="CpuKernels"/> found and did when libtorch was loaded.</summary>
/// <param name="Choice">The kernels in use.</param>
/// <param name="Cases">How many float32-vs-float64 cases the check ran (0 when it did not run).</param>
/// <param name="OneDnnFailures">Cases whose float32 result (forward, input gradient or weight gradient) disagreed with
/// float64 under libtorch's default kernels, by name, with the relative error.</param>
/// <param name="Elapsed">The time the check took.</param>
public sealed record CpuKernelReport(CpuKernelChoice Choice, int Cases, IReadOnlyList<string> OneDnnFailures, TimeSpan Elapsed)
{
    /// <summary>One line for logs and example output.</summary>
    public override string ToString() => Choice switch
    {
        CpuKernelChoice.OneDnnChecked => $"CPU kernels: libtorch's defaults (oneDNN), checked against float64 on {Cases} cases in {Elapsed.TotalMilliseconds:0} ms.",
        CpuKernelChoice.ReferenceAfterFailedCheck =>
            $"CPU kernels: libtorch's oneDNN convolutions gave wrong float32 results on this CPU ({OneDnnFailures.Count} of {Cases} checked cases); " +
            "oneDNN is off and libtorch's reference kernels are used (checked on the same cases).",
        CpuKernelChoice.ReferenceByRequest => "CPU kernels: libtorch's reference kernels (oneDNN off by FUNCTIONAL_CPU_KERNELS=reference).",
        CpuKernelChoice.OneDnnUnchecked => "CPU kernels: libtorch's defaults, unchecked (FUNCTIONAL_CPU_KERNELS=onednn).",
        _ => "CPU kernels: libtorch is not loaded yet.",
    };
}

/// <summary>libtorch's CPU kernels would return wrong numbers on this CPU, and no correct fallback was found.</summary>
public sealed class CpuKernelException : Exception
{
    /// <summary>Creates the exception.</summary>
    public CpuKernelException(string message) : base(message) { }
}

/// <summary>
/// Makes sure the CPU convolution kernels compute what Keras computes on whatever CPU libtorch dispatches to.
/// </summary>
/// <remarks>
/// <para>libtorch 2.10's CPU convolutions go through oneDNN, which picks JIT kernels by the CPU's instruction sets and
/// caches. On some x86-64 CPUs (measured: AMD EPYC Zen 5 with AVX-512, as this project's machines and CI may be) several of
/// those kernels return wrong float32 values — transposed convolutions, the input gradient of every convolution,
/// depthwise/grouped convolutions on channels_last-strided inputs — off by O(1), silently. The float64 paths (which do not
/// use oneDNN) are right, and so are the float32 ones with oneDNN switched off.</para>
/// <para>So when libtorch loads, <see cref="Apply"/> runs a fixed set of small convolutions of every kind the layer
/// builders use (1D/2D/3D, plain, grouped and depthwise, transposed, strides and dilations, batch 3, contiguous and
/// channels_last-strided inputs; forward, input gradient and weight gradient) plus a dense layer, in float32 against
/// float64. If every case agrees, nothing changes. If any disagrees, oneDNN is switched off process-wide
/// (<c>at::globalContext().setUserEnabledMkldnn(false)</c>, PyTorch's <c>torch.backends.mkldnn.enabled = False</c>) and the
/// same cases must then agree; if they still do not, loading fails with <see cref="CpuKernelException"/> rather than
/// compute wrong numbers. The check uses its own deterministic data (torch's random generator is untouched) and takes a
/// few tens of milliseconds once per process.</para>
/// <para><c>FUNCTIONAL_CPU_KERNELS</c>: <c>check</c> (the default), <c>reference</c> (oneDNN off without checking) or
/// <c>onednn</c> (libtorch's defaults without checking, at your own risk).</para>
/// </remarks>
public static class CpuKernels
{
    private const double Tolerance = 1e-3;

    /// <summary>What was found and decided when libtorch loaded.</summary>
    public static CpuKernelReport Report { get; private set; } = new(CpuKernelChoice.Undecided, 0, [], TimeSpan.Zero);

    /// <summary>
    /// Whether libtorch's CPU operations may use oneDNN now (PyTorch's <c>torch.backends.mkldnn.enabled</c>). Setting it
    /// is for measurement (the benchmark's <c>kernels</c> mode times both): turning oneDNN back on where the check failed
    /// brings the wrong numbers back. It is process-wide, like PyTorch's flag.
    /// </summary>
    public static bool OneDnnEnabled
    {
        get
        {
            LibTorch.EnsureLoaded();
            var api = ContextApi.Value ?? throw new PlatformNotSupportedException("libtorch's at::Context is not reachable on this platform.");
            return api.Get(api.Context()) != 0;
        }
        set
        {
            LibTorch.EnsureLoaded();
            SetOneDnn(value, "CpuKernels.OneDnnEnabled");
        }
    }

    /// <summary>
    /// Runs the float32-vs-float64 check under the current kernel settings and returns the failing cases (empty when all
    /// agree). Loads libtorch first. Public so that a test or a service's health check can re-run it.
    /// </summary>
    public static IReadOnlyList<string> Check()
    {
        LibTorch.EnsureLoaded();
        return RunCases();
    }

    internal static void Apply()
    {
        QuietUnusableNnpack();
        var setting = (Environment.GetEnvironmentVariable("FUNCTIONAL_CPU_KERNELS") ?? "check").Trim().ToLowerInvariant();
        switch (setting)
        {
            case "onednn":
                Report = new(CpuKernelChoice.OneDnnUnchecked, 0, [], TimeSpan.Zero);
                return;
            case "reference":
                SetOneDnn(false, "FUNCTIONAL_CPU_KERNELS=reference");
                Report = new(CpuKernelChoice.ReferenceByRequest, 0, [], TimeSpan.Zero);
                return;
            case "check" or "":
                break;
            default:
                throw new ArgumentException($"FUNCTIONAL_CPU_KERNELS must be 'check', 'reference' or 'onednn'. Received: '{setting}'.");
        }
        var clock = Stopwatch.StartNew();
        var failures = RunCases();
        if (failures.Count == 0)
        {
            Report = new(CpuKernelChoice.OneDnnChecked, CaseCount, [], clock.Elapsed);
            return;
        }
        SetOneDnn(false, $"oneDNN failed the float64 check on this CPU ({string.Join("; ", failures.Take(3))})");
        var still = RunCases();
        if (still.Count > 0)
            throw new CpuKernelException(
                "libtorch's CPU kernels return wrong float32 values on this CPU, with and without oneDNN: " +
                string.Join("; ", still.Take(5)) + ". Refusing to compute wrong numbers. Set FUNCTIONAL_CPU_KERNELS=onednn to " +
                "run anyway (unchecked), or use another libtorch (FUNCTIONAL_LIBTORCH).");
        Report = new(CpuKernelChoice.ReferenceAfterFailedCheck, CaseCount, failures, clock.Elapsed);
    }

    private static void SetOneDnn(bool enabled, string why)
    {
        var api = ContextApi.Value ?? throw new CpuKernelException(
            $"Cannot switch libtorch's oneDNN kernels off ({why}): at::Context's entry points were not found in libtorch_cpu. " +
            "Set FUNCTIONAL_CPU_KERNELS=onednn to run anyway (unchecked).");
        var context = api.Context();
        api.Set(context, enabled ? (byte)1 : (byte)0);
        if ((api.Get(context) != 0) != enabled)
            throw new CpuKernelException($"libtorch did not accept switching oneDNN {(enabled ? "on" : "off")} ({why}).");
    }

    // ---- at::Context through its exported C++ symbols (Itanium ABI; Linux and macOS builds of libtorch) ----

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate IntPtr GlobalContextFn();
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate void SetBoolFn(IntPtr self, byte value);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate byte GetBoolFn(IntPtr self);

    private sealed record Api(GlobalContextFn Context, SetBoolFn Set, GetBoolFn Get);

    private static readonly Lazy<Api?> ContextApi = new(() =>
        Exports("_ZN2at13globalContextEv", "_ZN2at7Context20setUserEnabledMkldnnEb", "_ZNK2at7Context17userEnabledMkldnnEv")
            is [var ctx, var set, var get]
            ? new Api(Marshal.GetDelegateForFunctionPointer<GlobalContextFn>(ctx),
                Marshal.GetDelegateForFunctionPointer<SetBoolFn>(set), Marshal.GetDelegateForFunctionPointer<GetBoolFn>(get))
            : null);

    // The addresses of all the named symbols in libtorch_cpu (Linux or macOS), or null when it or any of them is missing.
    internal static IntPtr[]? Exports(params string[] symbols)
    {
        foreach (var name in new[] { "libtorch_cpu.so", "libtorch_cpu.dylib" })
        {
            if (!NativeLibrary.TryLoad(name, out var lib)) continue;
            var found = new IntPtr[symbols.Length];
            var all = true;
            for (var i = 0; i < symbols.Length && all; i++) all = NativeLibrary.TryGetExport(lib, symbols[i], out found[i]);
            if (all) return found;
        }
        return null;
    }

    /// <summary>
    /// Where NNPACK cannot initialise on this CPU (libtorch says "Could not initialize NNPACK! Reason: Unsupported
    /// hardware." on stderr, once for every thread that tries — dozens of lines in a service or a test run), libtorch's
    /// NNPACK switch is turned off, as <c>torch.backends.nnpack.set_flags(False)</c> does: it could not be used anyway, so
    /// no kernel changes, and the one probe prints the line once. Where NNPACK works, nothing is changed.
    /// </summary>
    private static void QuietUnusableNnpack()
    {
        if (NnpackApi.Value is not { } api) return;
        if (api.Available() != 0) return;
        api.Set(ContextApi.Value!.Context(), 0);
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate byte AvailableFn();

    private sealed record Nnpack(AvailableFn Available, SetBoolFn Set);

    private static readonly Lazy<Nnpack?> NnpackApi = new(() =>
        ContextApi.Value is not null
        && Exports("_ZN2at6native17_nnpack_availableEv", "_ZN2at7Context20setUserEnabledNNPACKEb") is [var available, var set]
            ? new Nnpack(Marshal.GetDelegateForFunctionPointer<AvailableFn>(available), Marshal.GetDelegateForFunctionPointer<SetBoolFn>(set))
            : null);

    // ---- the cases ----

    private sealed record ConvCase(string Name, int Rank, bool Transposed, long Batch, long InChannels, long OutChannels, long Groups,
        long[] Kernel, long[] Strides, long[] Dilation, long[] Size, bool ChannelsLastStrides);

    private static readonly ConvCase[] ConvCases = MakeCases();

    private static int CaseCount => ConvCases.Length + 1;

    // A fixed, varied set: every rank × {conv, transposed} × {plain, grouped, depthwise} × {contiguous, channels_last
    // strides}, two shapes each (small channel counts, 1–3 kernels, strides and dilations), drawn once from a fixed seed.
    private static ConvCase[] MakeCases()
    {
        var rng = new Random(20261203);
        var cases = new List<ConvCase>();
        foreach (var rank in new[] { 1, 2, 3 })
        foreach (var transposed in new[] { false, true })
        foreach (var kind in new[] { "plain", "grouped", "depthwise" })
        foreach (var channelsLast in new[] { false, true })
        for (var variant = 0; variant < 2; variant++)
        {
            long groups, inChannels, outChannels;
            switch (kind)
            {
                case "plain": groups = 1; inChannels = rng.Next(1, 4); outChannels = rng.Next(1, 4); break;
                case "grouped": groups = rng.Next(2, 4); inChannels = groups * rng.Next(1, 3); outChannels = groups * rng.Next(1, 3); break;
                default: groups = rng.Next(2, 5); inChannels = groups; outChannels = groups * rng.Next(1, 4); break;
            }
            long[] Draw(int lo, int hi) => Enumerable.Range(0, rank).Select(_ => (long)rng.Next(lo, hi)).ToArray();
            var kernel = Draw(1, 4);
            var strides = Draw(1, 3);
            var dilation = Draw(1, 3);
            var size = Draw(rank == 3 ? 4 : 5, rank == 3 ? 7 : 10);
            for (var i = 0; i < rank; i++)
                size[i] = Math.Max(size[i], (kernel[i] - 1) * dilation[i] + 1);
            var name = $"{(transposed ? "conv_transpose" : "conv")}{rank}d {kind} {(channelsLast ? "channels_last-strided" : "contiguous")} " +
                       $"x({3},{inChannels},{string.Join(",", size)}) k{string.Join("x", kernel)} s{string.Join(",", strides)} " +
                       $"d{string.Join(",", dilation)} g{groups} → {outChannels}";
            cases.Add(new ConvCase(name, rank, transposed, 3, inChannels, outChannels, groups, kernel, strides, dilation, size, channelsLast));
        }
        return [.. cases];
    }

    private static IReadOnlyList<string> RunCases()
    {
        var failures = new List<string>();
        using var grad = torch.enable_grad();
        using var scope = NewDisposeScope();
        var data = new Lcg(7);
        foreach (var c in ConvCases)
            Compare(c.Name, data, failures,
                [c.Batch, c.InChannels, .. c.Size],
                c.Transposed ? [c.InChannels, c.OutChannels / c.Groups, .. c.Kernel] : [c.OutChannels, c.InChannels / c.Groups, .. c.Kernel],
                c.ChannelsLastStrides, (x, w) => Convolve(c, x, w));
        Compare("linear x(4,7) → 5", data, failures, [4, 7], [5, 7], false, (x, w) => F.linear(x, w));
        return failures;
    }

    private static Tensor Convolve(ConvCase c, Tensor x, Tensor w) => (c.Rank, c.Transposed) switch
    {
        (1, false) => F.conv1d(x, w, null, c.Strides[0], 0, c.Dilation[0], c.Groups),
        (2, false) => F.conv2d(x, w, null, c.Strides, new long[2], c.Dilation, c.Groups),
        (3, false) => F.conv3d(x, w, null, c.Strides, new long[3], c.Dilation, c.Groups),
        (1, true) => F.conv_transpose1d(x, w, null, c.Strides[0], 0, 0, c.Dilation[0], c.Groups),
        (2, true) => F.conv_transpose2d(x, w, null, c.Strides, new long[2], new long[2], c.Dilation, c.Groups),
        _ => F.conv_transpose3d(x, w, null, c.Strides, new long[3], new long[3], c.Dilation, c.Groups),
    };

    // Forward, input gradient and weight gradient of op in float32 (input optionally with channels_last strides) against float64.
    private static void Compare(string name, Lcg data, List<string> failures, long[] inputShape, long[] weightShape,
        bool channelsLastStrides, Func<Tensor, Tensor, Tensor> op)
    {
        using var scope = NewDisposeScope();
        var x64 = data.Tensor(inputShape).requires_grad_(true);
        var w64 = data.Tensor(weightShape).requires_grad_(true);
        var y64 = op(x64, w64);
        var upstream = data.Tensor(y64.shape);
        y64.backward([upstream]);

        var x32Leaf = x64.detach().to_type(ScalarType.Float32).requires_grad_(true);
        var x32 = channelsLastStrides ? ChannelsLastStrided(x32Leaf) : x32Leaf;
        var w32 = w64.detach().to_type(ScalarType.Float32).requires_grad_(true);
        var y32 = op(x32, w32);
        y32.backward([upstream.to_type(ScalarType.Float32)]);

        var worst = new[] { ("output", Error(y32, y64)), ("input gradient", Error(x32Leaf.grad!, x64.grad!)), ("weight gradient", Error(w32.grad!, w64.grad!)) }
            .MaxBy(e => e.Item2);
        if (!(worst.Item2 <= Tolerance)) failures.Add($"{name}: {worst.Item1} off by {worst.Item2:G3} (relative)");
    }

    // The same values with channels_last memory strides, as a user gets from x.permute(...) of NHWC data.
    private static Tensor ChannelsLastStrided(Tensor x)
    {
        var rank = (int)x.dim();
        long[] toLast = [0, .. Enumerable.Range(2, rank - 2).Select(i => (long)i), 1];
        long[] back = [0, rank - 1, .. Enumerable.Range(1, rank - 2).Select(i => (long)i)];
        return x.permute(toLast).contiguous().permute(back);
    }

    // max |a − b| / (1 + max |b|), computed in float64; NaN compares as a failure.
    private static double Error(Tensor a, Tensor b)
    {
        var diff = (a.to_type(ScalarType.Float64) - b).abs().max().item<double>();
        return diff / (1.0 + b.abs().max().item<double>());
    }

    // Deterministic values in [-1, 1] without touching torch's generator.
    private sealed class Lcg(ulong state)
    {
        public Tensor Tensor(long[] shape)
        {
            var n = shape.Aggregate(1L, (a, b) => a * b);
            var values = new double[n];
            for (var i = 0; i < n; i++)
            {
                state = state * 6364136223846793005UL + 1442695040888963407UL;
                values[i] = (state >> 11) * (2.0 / (1UL << 53)) - 1.0;
            }
            return torch.tensor(values, shape, ScalarType.Float64);
        }
    }
}

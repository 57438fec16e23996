using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using System.Runtime.InteropServices;

namespace Functional.Torch.Native;

/// <summary>
/// glibc heap settings for tensor-sized allocations, applied once when libtorch is loaded (Linux with glibc only).
/// </summary>
/// <remarks>
/// libtorch's CPU tensors come from <c>malloc</c>. By default glibc gives freed memory at the top of the heap back to the
/// kernel once more than about twice the largest recent "big" block is free, and maps blocks above a moving threshold
/// directly; a training step that frees and re-allocates tens of MiB of activations then touches fresh pages every step.
/// Whether that happens depends on the order in which a step frees its tensors: measured on the seed CNN at batch 256 on
/// this project's 2-core machine, one network ran with ~18,000 minor page faults per step (+25 % step time) and the same
/// network written with other TorchSharp calls with ~10. With the mapping threshold at glibc's maximum (32 MiB) and freed
/// heap memory kept up to 512 MiB, both run without the faults. This is what a DL framework's caching allocator does;
/// it keeps up to 512 MiB of freed memory in the process instead of returning it to the kernel.
/// Set <c>FUNCTIONAL_HEAP_TUNING=0</c> to leave glibc's defaults; any <c>MALLOC_*_</c> or <c>GLIBC_TUNABLES</c> setting
/// of the user's also wins (nothing is changed then).
/// </remarks>
public static class HeapTuning
{
    private const int MTrimThreshold = -1;
    private const int MMmapThreshold = -3;

    /// <summary>The largest block glibc serves from the heap rather than mapping it directly (glibc's maximum on 64-bit).</summary>
    public const int MmapThreshold = 32 * 1024 * 1024;

    /// <summary>How much free memory the heap's top may hold before glibc returns it to the kernel.</summary>
    public const int TrimThreshold = 512 * 1024 * 1024;

    /// <summary>Whether the settings were applied in this process.</summary>
    public static bool Applied { get; private set; }

    /// <summary>Why the settings were not applied (null when they were, or before libtorch is loaded).</summary>
    public static string? SkippedBecause { get; private set; }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int parameter, int value);

    internal static void Apply()
    {
        if (Applied || SkippedBecause is not null) return;
        if (!OperatingSystem.IsLinux()) { SkippedBecause = "not Linux"; return; }
        if (Environment.GetEnvironmentVariable("FUNCTIONAL_HEAP_TUNING") is "0" or "false")
        {
            SkippedBecause = "FUNCTIONAL_HEAP_TUNING=0";
            return;
        }
        var user = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .FirstOrDefault(k => (k.StartsWith("MALLOC_", StringComparison.Ordinal) && k.EndsWith('_'))
                                 || (k == "GLIBC_TUNABLES" && (Environment.GetEnvironmentVariable(k) ?? "").Contains("malloc", StringComparison.Ordinal)));
        if (user is not null) { SkippedBecause = $"{user} is set"; return; }
        try
        {
            // mallopt returns 1 on success; setting either value also turns off glibc's moving threshold.
            Applied = Mallopt(MMmapThreshold, MmapThreshold) == 1 & Mallopt(MTrimThreshold, TrimThreshold) == 1;
            if (!Applied) SkippedBecause = "mallopt refused the settings";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            SkippedBecause = "no glibc mallopt";
        }
    }
}

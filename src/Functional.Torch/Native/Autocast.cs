using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using System.Runtime.InteropServices;
using TorchSharp;

namespace Functional.Torch.Native;

/// <summary>
/// libtorch's autocast (PyTorch's <c>torch.autocast</c>), which TorchSharp does not expose, through libtorch_cpu's exported
/// <c>at::autocast</c> functions: while a scope is open on a thread, matrix products and convolutions on that device type
/// cast their floating-point arguments — float32 weights included — to the scope's dtype, and their gradients flow back to
/// the float32 weights. This is how a mixed-precision layer computes in float16/bfloat16 with float32 variables.
/// </summary>
/// <remarks>
/// Autocast state is per thread in libtorch, so scopes on different threads never interfere. A scope restores the state it
/// found, and clears libtorch's cache of cast weights when the outermost scope closes, as <c>torch.autocast.__exit__</c>.
/// </remarks>
internal static class Autocast
{
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate byte IsEnabledFn(sbyte deviceType);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate void SetEnabledFn(sbyte deviceType, byte enabled);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate sbyte GetDtypeFn(sbyte deviceType);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate void SetDtypeFn(sbyte deviceType, sbyte dtype);
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate int NestingFn();
    [UnmanagedFunctionPointer(CallingConvention.Cdecl)] private delegate void ClearFn();

    private sealed record Api(IsEnabledFn IsEnabled, SetEnabledFn SetEnabled, GetDtypeFn GetDtype, SetDtypeFn SetDtype,
        NestingFn Increment, NestingFn Decrement, ClearFn ClearCache);

    private static readonly Lazy<Api?> Functions = new(() =>
        CpuKernels.Exports(
                "_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE",
                "_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb",
                "_ZN2at8autocast18get_autocast_dtypeEN3c1010DeviceTypeE",
                "_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE",
                "_ZN2at8autocast17increment_nestingEv",
                "_ZN2at8autocast17decrement_nestingEv",
                "_ZN2at8autocast11clear_cacheEv")
            is [var isEnabled, var setEnabled, var getDtype, var setDtype, var inc, var dec, var clear]
            ? new Api(Marshal.GetDelegateForFunctionPointer<IsEnabledFn>(isEnabled), Marshal.GetDelegateForFunctionPointer<SetEnabledFn>(setEnabled),
                Marshal.GetDelegateForFunctionPointer<GetDtypeFn>(getDtype), Marshal.GetDelegateForFunctionPointer<SetDtypeFn>(setDtype),
                Marshal.GetDelegateForFunctionPointer<NestingFn>(inc), Marshal.GetDelegateForFunctionPointer<NestingFn>(dec),
                Marshal.GetDelegateForFunctionPointer<ClearFn>(clear))
            : null);

    /// <summary>Whether libtorch's autocast entry points were found (Linux and macOS builds of libtorch).</summary>
    public static bool Available
    {
        get
        {
            LibTorch.EnsureLoaded();
            return Functions.Value is not null;
        }
    }

    /// <summary>Whether autocast is on for <paramref name="device"/> on this thread.</summary>
    public static bool IsEnabled(DeviceType device) => Require().IsEnabled((sbyte)device) != 0;

    /// <summary>The dtype autocast casts to on <paramref name="device"/> on this thread.</summary>
    public static torch.ScalarType Dtype(DeviceType device) => (torch.ScalarType)Require().GetDtype((sbyte)device);

    /// <summary>
    /// Turns autocast on (to <paramref name="dtype"/>) or off for <paramref name="device"/> on this thread until the result is
    /// disposed, on the same thread.
    /// </summary>
    public static Scope Enter(DeviceType device, bool enabled, torch.ScalarType dtype)
    {
        var api = Require();
        var d = (sbyte)device;
        var scope = new Scope(api, d, api.IsEnabled(d) != 0, api.GetDtype(d));
        api.SetDtype(d, (sbyte)dtype);
        api.SetEnabled(d, enabled ? (byte)1 : (byte)0);
        api.Increment();
        return scope;
    }

    private static Api Require() => Functions.Value ?? throw new PlatformNotSupportedException(
        "Mixed precision needs libtorch's autocast (at::autocast in libtorch_cpu), which was not found in the loaded libtorch.");

    /// <summary>An open autocast scope; disposing restores what it found.</summary>
    internal readonly struct Scope : IDisposable
    {
        private readonly Api? api;
        private readonly sbyte device;
        private readonly bool wasEnabled;
        private readonly sbyte previousDtype;

        internal Scope(object api, sbyte device, bool wasEnabled, sbyte previousDtype)
        {
            this.api = (Api)api;
            this.device = device;
            this.wasEnabled = wasEnabled;
            this.previousDtype = previousDtype;
        }

        public void Dispose()
        {
            if (api is null) return;
            if (api.Decrement() == 0) api.ClearCache();
            api.SetEnabled(device, wasEnabled ? (byte)1 : (byte)0);
            api.SetDtype(device, previousDtype);
        }
    }
}

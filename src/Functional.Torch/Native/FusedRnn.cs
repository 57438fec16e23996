using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Functional.Torch.Native;

/// <summary>
/// libtorch's fused recurrent kernels (<c>at::lstm</c>, <c>at::gru</c>, <c>at::rnn_tanh</c> — what PyTorch's
/// <c>nn.LSTM</c>/<c>nn.GRU</c>/<c>nn.RNN</c> run), which TorchSharp exposes only inside its own modules with their own
/// parameters. Called here through libtorch_cpu's exported dispatcher entry points (<c>at::_ops::lstm_input::call</c>, …),
/// so they go through autograd and run on the layer's own Keras-layout weights.
/// </summary>
/// <remarks>
/// <para>The C++ calling convention is the x86-64 System V one (Linux): the returned <c>std::tuple</c> of tensors comes back
/// through a hidden pointer passed first, a <c>TensorList</c> (<c>c10::ArrayRef</c>) is passed by value as (data, length),
/// and a <c>const Tensor&amp;</c> is TorchSharp's handle (an <c>at::Tensor*</c>). libstdc++ lays a tuple out last element
/// first. Each returned tensor is moved into an <c>at::Tensor</c> allocated with the C++ <c>operator new</c>, which is what
/// TorchSharp's handles are and what its dispose deletes. Elsewhere (other ABIs) <see cref="Available"/> is false and the
/// layers run their per-step loop.</para>
/// <para>The kernels raise C++ exceptions on bad arguments, which cannot cross into .NET: callers pass tensors they made
/// consistent (same dtype and device, 3-D batch-first input, states (1, batch, units), weights of matching sizes).</para>
/// </remarks>
internal static unsafe class FusedRnn
{
    [StructLayout(LayoutKind.Sequential)]
    private struct TensorList
    {
        public IntPtr Data;
        public nuint Length;
    }

    private sealed class Api
    {
        public delegate* unmanaged[Cdecl]<IntPtr, IntPtr, TensorList, TensorList, byte, long, double, byte, byte, byte, void> Lstm;
        public delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr, TensorList, byte, long, double, byte, byte, byte, void> Gru;
        public delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr, TensorList, byte, long, double, byte, byte, byte, void> RnnTanh;
        public delegate* unmanaged[Cdecl]<nuint, IntPtr> OperatorNew;
    }

    private static readonly Lazy<Api?> Functions = new(Load);

    private static Api? Load()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64) return null;
        LibTorch.EnsureLoaded();
        if (CpuKernels.Exports(
                "_ZN2at4_ops10lstm_input4callERKNS_6TensorEN3c108ArrayRefIS2_EES7_bldbbb",
                "_ZN2at4_ops9gru_input4callERKNS_6TensorES4_N3c108ArrayRefIS2_EEbldbbb",
                "_ZN2at4_ops14rnn_tanh_input4callERKNS_6TensorES4_N3c108ArrayRefIS2_EEbldbbb") is not [var lstm, var gru, var tanh])
            return null;
        if (!NativeLibrary.TryLoad("libstdc++.so.6", out var std) || !NativeLibrary.TryGetExport(std, "_Znwm", out var opNew)) return null;
        return new Api
        {
            Lstm = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr, TensorList, TensorList, byte, long, double, byte, byte, byte, void>)lstm,
            Gru = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr, TensorList, byte, long, double, byte, byte, byte, void>)gru,
            RnnTanh = (delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr, TensorList, byte, long, double, byte, byte, byte, void>)tanh,
            OperatorNew = (delegate* unmanaged[Cdecl]<nuint, IntPtr>)opNew,
        };
    }

    /// <summary>Whether the fused kernels can be called on this platform (Linux x86-64 with libtorch's exports found).</summary>
    public static bool Available => Functions.Value is not null;

    /// <summary>Set false to force every recurrent layer onto its per-step loop (tests compare the two paths).</summary>
    public static bool Enabled { get; set; } = true;

    // The TensorImpl pointer an at::Tensor handle holds (an at::Tensor is one intrusive pointer).
    private static IntPtr Impl(Tensor t) => Marshal.ReadIntPtr(t.Handle);

    // Moves a returned at::Tensor (its TensorImpl pointer, owning one reference) into a heap at::Tensor TorchSharp owns.
    private static Tensor Adopt(Api api, IntPtr impl)
    {
        var holder = api.OperatorNew((nuint)IntPtr.Size);
        Marshal.WriteIntPtr(holder, impl);
        return Tensor.UnsafeCreateTensor(holder);
    }

    private static void Check(Tensor input, IReadOnlyList<Tensor> states, IReadOnlyList<Tensor> weights)
    {
        if (input.dim() != 3) throw new ArgumentException($"Fused RNN: input must be (batch, steps, features); got rank {input.dim()}.");
        foreach (var t in states.Concat(weights))
            if (t.dtype != input.dtype || t.device_type != input.device_type || t.device_index != input.device_index)
                throw new ArgumentException($"Fused RNN: every tensor must have the input's dtype {input.dtype} and device {input.device}; found {t.dtype} on {t.device}.");
        foreach (var s in states)
            if (s.dim() != 3 || s.shape[0] != 1 || s.shape[1] != input.shape[0])
                throw new ArgumentException($"Fused RNN: a state must be (1, batch, units); got ({string.Join(", ", s.shape)}).");
    }

    /// <summary>PyTorch's single-layer batch-first LSTM: returns (outputs (batch, steps, units), h (1, batch, units),
    /// c (1, batch, units)). Weights: w_ih (4u, in), w_hh (4u, u)[, b_ih (4u), b_hh (4u)], gates i, f, g, o.</summary>
    public static (Tensor Output, Tensor H, Tensor C) Lstm(Tensor input, Tensor h0, Tensor c0, IReadOnlyList<Tensor> weights)
    {
        var api = Functions.Value ?? throw new PlatformNotSupportedException("libtorch's fused LSTM is not available here.");
        Check(input, [h0, c0], weights);
        var hx = stackalloc IntPtr[2] { Impl(h0), Impl(c0) };
        var ps = stackalloc IntPtr[weights.Count];
        for (var i = 0; i < weights.Count; i++) ps[i] = Impl(weights[i]);
        var result = stackalloc IntPtr[3];
        api.Lstm((IntPtr)result, input.Handle, new TensorList { Data = (IntPtr)hx, Length = 2 },
            new TensorList { Data = (IntPtr)ps, Length = (nuint)weights.Count }, weights.Count == 4 ? (byte)1 : (byte)0, 1, 0.0, 0, 0, 1);
        GC.KeepAlive(input); GC.KeepAlive(h0); GC.KeepAlive(c0); GC.KeepAlive(weights);
        // std::tuple<Tensor, Tensor, Tensor> in libstdc++: the last element first.
        return (Adopt(api, result[2]), Adopt(api, result[1]), Adopt(api, result[0]));
    }

    /// <summary>PyTorch's single-layer batch-first GRU (Keras's <c>reset_after</c> GRU): returns (outputs, h (1, batch, units)).
    /// Weights: w_ih (3u, in), w_hh (3u, u)[, b_ih (3u), b_hh (3u)], gates r, z, n.</summary>
    public static (Tensor Output, Tensor H) Gru(Tensor input, Tensor h0, IReadOnlyList<Tensor> weights) => Single(input, h0, weights, gru: true);

    /// <summary>PyTorch's single-layer batch-first tanh RNN: returns (outputs, h (1, batch, units)).</summary>
    public static (Tensor Output, Tensor H) RnnTanh(Tensor input, Tensor h0, IReadOnlyList<Tensor> weights) => Single(input, h0, weights, gru: false);

    private static (Tensor, Tensor) Single(Tensor input, Tensor h0, IReadOnlyList<Tensor> weights, bool gru)
    {
        var api = Functions.Value ?? throw new PlatformNotSupportedException("libtorch's fused RNN kernels are not available here.");
        Check(input, [h0], weights);
        var ps = stackalloc IntPtr[weights.Count];
        for (var i = 0; i < weights.Count; i++) ps[i] = Impl(weights[i]);
        var result = stackalloc IntPtr[2];
        var list = new TensorList { Data = (IntPtr)ps, Length = (nuint)weights.Count };
        var hasBiases = weights.Count == 4 ? (byte)1 : (byte)0;
        if (gru) api.Gru((IntPtr)result, input.Handle, h0.Handle, list, hasBiases, 1, 0.0, 0, 0, 1);
        else api.RnnTanh((IntPtr)result, input.Handle, h0.Handle, list, hasBiases, 1, 0.0, 0, 0, 1);
        GC.KeepAlive(input); GC.KeepAlive(h0); GC.KeepAlive(weights);
        return (Adopt(api, result[1]), Adopt(api, result[0]));
    }
}

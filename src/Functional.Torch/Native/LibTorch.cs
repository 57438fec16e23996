using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;

namespace Functional.Native;

/// <summary>
/// Loads libtorch before the first tensor operation, and explains a failure by its real cause.
/// </summary>
/// <remarks>
/// <para>Every entry point of Functional.Torch calls <see cref="EnsureLoaded"/>. It preloads the native libraries that the
/// build put next to this assembly (so F# Interactive, which does not read an app's deps.json, finds them), then
/// initialises TorchSharp.</para>
/// <para><b>Bring your own libtorch:</b> set <c>FUNCTIONAL_LIBTORCH</c> to a folder holding <c>libtorch.so</c> and friends —
/// for example a CUDA PyTorch install's <c>torch/lib</c> — or call <see cref="UseLibTorchFrom"/> before anything else.
/// Those libraries are loaded first, and TorchSharp's own glue library then binds to them.</para>
/// </remarks>
public static class LibTorch
{
    private static readonly object Gate = new();
    private static bool _loaded;
    private static string? _userDirectory = Environment.GetEnvironmentVariable("FUNCTIONAL_LIBTORCH");

    /// <summary>The folder given by <see cref="UseLibTorchFrom"/> or <c>FUNCTIONAL_LIBTORCH</c>, if any.</summary>
    public static string? UserDirectory => _userDirectory;

    /// <summary>Uses the libtorch in <paramref name="directory"/> (e.g. PyTorch's <c>torch/lib</c>). Call before any tensor work.</summary>
    /// <exception cref="InvalidOperationException">libtorch is already loaded.</exception>
    public static void UseLibTorchFrom(string directory)
    {
        lock (Gate)
        {
            if (_loaded) throw new InvalidOperationException("libtorch is already loaded; call LibTorch.UseLibTorchFrom before any tensor work.");
            if (!Directory.Exists(directory))
                throw new DirectoryNotFoundException($"LibTorch.UseLibTorchFrom: folder '{directory}' does not exist.");
            _userDirectory = directory;
        }
    }

    /// <summary>Loads libtorch once; throws <see cref="LibTorchLoadException"/> naming the real cause when it cannot.</summary>
    public static void EnsureLoaded()
    {
        if (_loaded) return;
        lock (Gate)
        {
            if (_loaded) return;
            var notes = new List<string>();
            if (_userDirectory is { } dir) PreloadUserLibTorch(dir, notes);
            var glue = FindGlueLibrary();
            if (glue is not null) PreloadBundled(glue, notes);
            try
            {
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e) when (e is NotSupportedException or DllNotFoundException or TypeInitializationException or InvalidOperationException)
            {
                throw new LibTorchLoadException(Diagnose(glue, notes), e);
            }
            HeapTuning.Apply();
            // Check libtorch's CPU kernels against float64 on this CPU, and switch oneDNN off if they are wrong here.
            CpuKernels.Apply();
            _loaded = true;
        }
    }

    /// <summary>True when a CUDA device can be used (loads libtorch first).</summary>
    public static bool CudaAvailable()
    {
        EnsureLoaded();
        try { return torch.cuda.is_available(); }
        catch (Exception) { return false; }
    }

    private static string? FindGlueLibrary()
    {
        var name = OperatingSystem.IsWindows() ? "LibTorchSharp.dll" : OperatingSystem.IsMacOS() ? "libLibTorchSharp.dylib" : "libLibTorchSharp.so";
        var rid = RuntimeInformation.RuntimeIdentifier.StartsWith("linux", StringComparison.Ordinal)
            ? (RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64")
            : RuntimeInformation.RuntimeIdentifier;
        foreach (var asm in new[] { typeof(LibTorch).Assembly, typeof(torch).Assembly })
        {
            var dir = Path.GetDirectoryName(asm.Location);
            if (string.IsNullOrEmpty(dir)) continue;
            foreach (var candidate in new[] { Path.Combine(dir, name), Path.Combine(dir, "runtimes", rid, "native", name) })
                if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    // Load libtorch's pieces from the glue library's folder in dependency order, then the glue itself. Loading by full
    // path registers each soname, so TorchSharp's later load-by-name binds to these copies.
    private static void PreloadBundled(string glue, List<string> notes)
    {
        var dir = Path.GetDirectoryName(glue)!;
        if (_userDirectory is null)
            foreach (var lib in Directory.GetFiles(dir, "libgomp*.so*").Order()
                         .Concat(new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" }.Select(l => Path.Combine(dir, l))))
                TryLoad(lib, notes);
        TryLoad(glue, notes);
    }

    private static void PreloadUserLibTorch(string dir, List<string> notes)
    {
        foreach (var lib in new[] { "libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so" })
            TryLoad(Path.Combine(dir, lib), notes);
    }

    private static void TryLoad(string path, List<string> notes)
    {
        if (!File.Exists(path)) return;
        try { NativeLibrary.Load(path); }
        catch (Exception e) { notes.Add($"{path}: {e.Message}"); }
    }

    /// <summary>
    /// The real cause when <paramref name="glue"/> needs symbol versions the system's libstdc++ lacks (the Debian 12 failure),
    /// or null when nothing is missing.
    /// </summary>
    public static string? ExplainMissingVersions(string glue)
    {
        try
        {
            var lib = ElfSymbolVersions.FindSystemLibStdCxx();
            if (lib is null) return null;
            var missing = ElfSymbolVersions.Unsatisfied(File.ReadAllBytes(glue), "libstdc++.so.6", ElfSymbolVersions.ReadDefinitions(File.ReadAllBytes(lib)));
            if (missing.Count == 0) return null;
            return $"Cause: {Path.GetFileName(glue)} needs {string.Join(", ", missing.Select(m => m.Version))} from libstdc++.so.6, but {lib} does not provide " +
                   $"{(missing.Count == 1 ? "it" : "them")}. The build marks such needs weak in the copies it owns; this copy ({glue}) was not patched " +
                   "(copied by hand, or built elsewhere?). Rebuild with 'dotnet build', or install a newer libstdc++.";
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or IndexOutOfRangeException)
        {
            return $"(Could not inspect the ELF symbol versions of {glue}: {e.Message})";
        }
    }

    private static string Diagnose(string? glue, List<string> notes)
    {
        var lines = new List<string> { "libtorch could not be loaded." };
        if (glue is null)
            lines.Add("No libLibTorchSharp.so was found next to Functional.Torch.dll or TorchSharp.dll (nor under runtimes/<rid>/native). " +
                      "Build the project that references Functional (dotnet build), or set FUNCTIONAL_LIBTORCH to a libtorch folder.");
        else if (OperatingSystem.IsLinux())
        {
            lines.Add($"TorchSharp's glue library: {glue}");
            if (ExplainMissingVersions(glue) is { } cause) lines.Add(cause);
        }
        if (_userDirectory is not null) lines.Add($"FUNCTIONAL_LIBTORCH / UseLibTorchFrom: {_userDirectory}");
        lines.AddRange(notes.Select(n => "Loader said: " + n));
        return string.Join(Environment.NewLine, lines);
    }
}

/// <summary>libtorch failed to load; the message gives the real cause (for example a missing GLIBCXX version and the library that needs it).</summary>
public sealed class LibTorchLoadException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LibTorchLoadException(string message, Exception inner) : base(message, inner) { }
}

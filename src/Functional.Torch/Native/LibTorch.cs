using Functional.Functions;
using Functional.Layers;
using Functional.Models;
using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;

namespace Functional.Torch.Native;

/// <summary>
/// Loads libtorch before the first tensor operation, makes it load on systems whose libstdc++ is older than TorchSharp's
/// build (Debian 12), and explains a failure by its real cause.
/// </summary>
/// <remarks>
/// <para>Every entry point of Functional.Torch calls <see cref="EnsureLoaded"/>. It finds TorchSharp's glue library
/// (<c>libLibTorchSharp.so</c>) and libtorch — next to the application (where the build copied them), or in the NuGet
/// package folders when the host does not copy natives (F# Interactive's <c>#r "nuget: …"</c>) — and loads them by full
/// path before TorchSharp initialises. A library loaded by full path is registered under its soname, so TorchSharp's own
/// load-by-name then binds to these copies and its fallback (which copies natives into the NuGet cache) never runs.</para>
/// <para>TorchSharp 0.107's glue records a need for <c>GLIBCXX_3.4.32</c> that Debian 12's libstdc++ lacks. The build
/// (Functional.Torch's <c>buildTransitive</c> targets) marks such needs weak in the application's copy. Where the glue at
/// hand still has unmet needs (F# Interactive, a host without MSBuild), the loader writes a patched copy to a per-user
/// cache folder — <c>FUNCTIONAL_NATIVE_CACHE</c>, else <c>$XDG_CACHE_HOME/functional</c>, else
/// <c>~/.cache/functional</c> — keyed by the original's content, and loads that. It never writes into the NuGet cache.</para>
/// <para><b>Bring your own libtorch:</b> set <c>FUNCTIONAL_LIBTORCH</c> to a folder holding <c>libtorch.so</c> and friends —
/// for example a CUDA PyTorch install's <c>torch/lib</c> — or call <see cref="UseLibTorchFrom"/> before anything else.
/// Those libraries are loaded instead of the bundled CPU ones, and TorchSharp's glue then binds to them.</para>
/// </remarks>
public static class LibTorch
{
    private static readonly object Gate = new();
    private static bool _loaded;
    private static string? _userDirectory = Environment.GetEnvironmentVariable("FUNCTIONAL_LIBTORCH") is { Length: > 0 } d ? d : null;

    /// <summary>The folder given by <see cref="UseLibTorchFrom"/> or <c>FUNCTIONAL_LIBTORCH</c>, if any.</summary>
    public static string? UserDirectory => _userDirectory;

    /// <summary>The glue library that was loaded (a patched copy in <see cref="NativeCacheDirectory"/> when one was needed); null before loading.</summary>
    public static string? GlueLibraryPath { get; private set; }

    /// <summary>The folder libtorch itself (<c>libtorch.so</c>, <c>libtorch_cpu.so</c>, …) was loaded from; null before loading.</summary>
    public static string? LibTorchDirectory { get; private set; }

    /// <summary>
    /// Where the loader writes a patched copy of TorchSharp's glue library when the one at hand needs symbol versions the
    /// system lacks: <c>FUNCTIONAL_NATIVE_CACHE</c>, else <c>$XDG_CACHE_HOME/functional</c>, else <c>~/.cache/functional</c>.
    /// </summary>
    public static string NativeCacheDirectory
    {
        get
        {
            if (Environment.GetEnvironmentVariable("FUNCTIONAL_NATIVE_CACHE") is { Length: > 0 } own) return own;
            if (Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg) return Path.Combine(xdg, "functional");
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            return string.IsNullOrEmpty(home)
                ? Path.Combine(Path.GetTempPath(), "functional-cache")
                : Path.Combine(home, ".cache", "functional");
        }
    }

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
            var found = FindGlueLibrary();
            var libDir = _userDirectory ?? FindLibTorchDirectory(found, notes);
            if (libDir is not null) PreloadLibTorch(libDir, notes);
            var glue = found is null ? null : UsableGlue(found, notes);
            var glueLoaded = glue is not null && TryLoad(glue, notes);
            // Without a glue library loaded here, TorchSharp would search by itself and, failing that, copy natives into the
            // NuGet cache. Only let it search the usual places (the application's folder, the loader path); never that.
            if (!glueLoaded && !NativeLibrary.TryLoad("LibTorchSharp", typeof(torch).Assembly, null, out _))
                throw new LibTorchLoadException(Diagnose(found, glue, libDir, notes), null);
            try
            {
                torch.InitializeDeviceType(DeviceType.CPU);
            }
            catch (Exception e) when (e is NotSupportedException or DllNotFoundException or TypeInitializationException or InvalidOperationException)
            {
                throw new LibTorchLoadException(Diagnose(found, glue, libDir, notes), e);
            }
            GlueLibraryPath = glueLoaded ? glue : null;
            LibTorchDirectory = libDir;
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

    private static string NativeRid =>
        OperatingSystem.IsWindows() ? "win-x64"
        : OperatingSystem.IsMacOS() ? "osx-arm64"
        : RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";

    private static string GlueName =>
        OperatingSystem.IsWindows() ? "LibTorchSharp.dll" : OperatingSystem.IsMacOS() ? "libLibTorchSharp.dylib" : "libLibTorchSharp.so";

    private static string LibTorchName =>
        OperatingSystem.IsWindows() ? "torch.dll" : OperatingSystem.IsMacOS() ? "libtorch.dylib" : "libtorch.so";

    // The NuGet package folder a package's assembly was loaded from: <root>/<id>/<version>/lib/<tfm>/X.dll.
    private static string? PackageFolderOf(Assembly asm)
    {
        var dir = Path.GetDirectoryName(asm.Location);
        if (string.IsNullOrEmpty(dir)) return null;
        var lib = Path.GetDirectoryName(dir);
        return lib is not null && Path.GetFileName(lib) == "lib" ? Path.GetDirectoryName(lib) : null;
    }

    private static string? FindGlueLibrary()
    {
        var candidates = new List<string>();
        foreach (var asm in new[] { typeof(LibTorch).Assembly, typeof(torch).Assembly })
        {
            var dir = Path.GetDirectoryName(asm.Location);
            if (string.IsNullOrEmpty(dir)) continue;
            candidates.Add(Path.Combine(dir, GlueName));
            candidates.Add(Path.Combine(dir, "runtimes", NativeRid, "native", GlueName));
        }
        // TorchSharp referenced straight from its NuGet package (F# Interactive): the glue is in the package's runtimes/.
        if (PackageFolderOf(typeof(torch).Assembly) is { } package)
            candidates.Add(Path.Combine(package, "runtimes", NativeRid, "native", GlueName));
        return candidates.FirstOrDefault(File.Exists);
    }

    // libtorch next to the glue (an application's output), else the libtorch-cpu package that Functional.Torch depends on,
    // in the NuGet folder TorchSharp came from (F# Interactive), at the version this assembly was built against.
    private static string? FindLibTorchDirectory(string? glue, List<string> notes)
    {
        if (glue is not null && Path.GetDirectoryName(glue) is { } beside && File.Exists(Path.Combine(beside, LibTorchName))) return beside;
        if (PackageFolderOf(typeof(torch).Assembly) is not { } torchSharpPackage) return null;
        var packagesRoot = Path.GetDirectoryName(Path.GetDirectoryName(torchSharpPackage));
        if (packagesRoot is null) return null;
        var id = "libtorch-cpu-" + NativeRid;
        var root = Path.Combine(packagesRoot, id);
        if (!Directory.Exists(root))
        {
            notes.Add($"No {id} package under {packagesRoot} (reference it, or set FUNCTIONAL_LIBTORCH).");
            return null;
        }
        var wanted = typeof(LibTorch).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "FunctionalLibTorchVersion")?.Value;
        string Native(string version) => Path.Combine(root, version, "runtimes", NativeRid, "native");
        if (wanted is not null && File.Exists(Path.Combine(Native(wanted), LibTorchName))) return Native(wanted);
        var other = Directory.GetDirectories(root).Select(Path.GetFileName).OfType<string>()
            .Where(v => File.Exists(Path.Combine(Native(v), LibTorchName)))
            .OrderByDescending(v => Version.TryParse(v.Split('-')[0], out var parsed) ? parsed : new Version(0, 0))
            .FirstOrDefault();
        if (other is not null) notes.Add($"{id} {wanted} is not restored; using {other}.");
        return other is null ? null : Native(other);
    }

    // Load libtorch's pieces in dependency order. Loading by full path registers each soname, so the glue's own needs
    // (libtorch.so, libc10.so, libtorch_cpu.so) and TorchSharp's later loads by name bind to these copies.
    private static void PreloadLibTorch(string dir, List<string> notes)
    {
        foreach (var lib in Directory.GetFiles(dir, "libgomp*.so*").Order()
                     .Concat(new[] { "libc10.so", "libc10_cuda.so", "libtorch_cpu.so", "libtorch_cuda.so", "libtorch.so" }.Select(l => Path.Combine(dir, l))))
            if (File.Exists(lib)) TryLoad(lib, notes);
    }

    private static bool TryLoad(string path, List<string> notes)
    {
        try
        {
            NativeLibrary.Load(path);
            return true;
        }
        catch (Exception e)
        {
            notes.Add($"{path}: {e.Message}");
            return false;
        }
    }

    // The glue itself when the system's libstdc++ satisfies it; otherwise a copy with the unmet needs marked weak, written
    // once to the per-user native cache (never into the folder it came from, which may be the NuGet cache).
    private static string UsableGlue(string glue, List<string> notes)
    {
        if (!OperatingSystem.IsLinux()) return glue;
        try
        {
            var libstdcxx = ElfSymbolVersions.FindSystemLibStdCxx();
            if (libstdcxx is null) return glue;
            var bytes = File.ReadAllBytes(glue);
            if (!ElfSymbolVersions.IsElf64(bytes)) return glue;
            var missing = ElfSymbolVersions.Unsatisfied(bytes, "libstdc++.so.6", ElfSymbolVersions.ReadDefinitions(File.ReadAllBytes(libstdcxx)));
            if (missing.Count == 0) return glue;
            var key = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(bytes))[..16].ToLowerInvariant()
                      + "-" + string.Join("_", missing.Select(m => m.Version)).ToLowerInvariant();
            var dir = Path.Combine(NativeCacheDirectory, "libtorchsharp", key);
            var patched = Path.Combine(dir, Path.GetFileName(glue));
            if (File.Exists(patched)) return patched;
            ElfSymbolVersions.MarkWeak(bytes, missing);
            Directory.CreateDirectory(dir);
            // Write beside and rename: concurrent processes never see a half-written library.
            var tmp = Path.Combine(dir, $".{Path.GetFileName(glue)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
            File.WriteAllBytes(tmp, bytes);
            File.Move(tmp, patched, overwrite: true);
            notes.Add($"Patched a copy of {glue} ({string.Join(", ", missing.Select(m => m.Version))} marked weak): {patched}");
            return patched;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or IndexOutOfRangeException)
        {
            notes.Add($"Could not write a patched copy of {glue} under {NativeCacheDirectory} ({e.Message}); set FUNCTIONAL_NATIVE_CACHE to a writable folder.");
            return glue;
        }
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
                   $"{(missing.Count == 1 ? "it" : "them")}. Functional.Torch's build step marks such needs weak in an application's output, and its " +
                   $"loader patches a copy under {NativeCacheDirectory} otherwise; this copy ({glue}) was patched by neither (copied by hand, the " +
                   "package's build assets excluded, or the cache folder not writable — set FUNCTIONAL_NATIVE_CACHE). Or install a libstdc++ from GCC 13 or later.";
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException or IndexOutOfRangeException)
        {
            return $"(Could not inspect the ELF symbol versions of {glue}: {e.Message})";
        }
    }

    private static string Diagnose(string? found, string? glue, string? libDir, List<string> notes)
    {
        var lines = new List<string> { "libtorch could not be loaded." };
        if (found is null)
            lines.Add($"No {GlueName} was found next to Functional.Torch.dll or TorchSharp.dll (nor under runtimes/{NativeRid}/native, nor in " +
                      "TorchSharp's NuGet package). Reference the Functional.Torch package (it brings TorchSharp and the CPU libtorch) and build, " +
                      "or set FUNCTIONAL_LIBTORCH to a libtorch folder.");
        else
        {
            lines.Add($"TorchSharp's glue library: {glue ?? found}");
            if (OperatingSystem.IsLinux() && ExplainMissingVersions(glue ?? found) is { } cause) lines.Add(cause);
        }
        lines.Add(libDir is null
            ? $"No libtorch folder was found (the libtorch-cpu-{NativeRid} package, or FUNCTIONAL_LIBTORCH)."
            : $"libtorch folder: {libDir}");
        if (_userDirectory is not null) lines.Add($"FUNCTIONAL_LIBTORCH / UseLibTorchFrom: {_userDirectory}");
        lines.AddRange(notes.Select(n => "Loader said: " + n));
        return string.Join(Environment.NewLine, lines);
    }
}

/// <summary>libtorch failed to load; the message gives the real cause (for example a missing GLIBCXX version and the library that needs it).</summary>
public sealed class LibTorchLoadException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LibTorchLoadException(string message, Exception? inner) : base(message, inner) { }
}

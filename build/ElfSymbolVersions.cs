#nullable enable
// Shared by the build (an MSBuild inline task, see build/LibTorchNative.targets) and by Functional.Torch's
// load diagnostics (compiled with FUNCTIONAL_LIBRARY defined). Reads and edits ELF64 symbol-version tables.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace Functional.Torch.Native
{
    /// <summary>One symbol-version requirement of an ELF file (an entry of <c>.gnu.version_r</c>).</summary>
    public sealed class VersionNeed
    {
        /// <summary>The library the version is needed from, e.g. <c>libstdc++.so.6</c>.</summary>
        public string File { get; set; } = "";
        /// <summary>The version name, e.g. <c>GLIBCXX_3.4.32</c>.</summary>
        public string Version { get; set; } = "";
        /// <summary>True when the need is marked weak (<c>VER_FLG_WEAK</c>): the loader then tolerates its absence.</summary>
        public bool Weak { get; set; }
        /// <summary>File offset of the entry's <c>vna_flags</c> field.</summary>
        public long FlagsOffset { get; set; }
    }

    /// <summary>Minimal ELF64 little-endian reader/patcher for GNU symbol versioning.</summary>
    public static class ElfSymbolVersions
    {
        private const uint ShtGnuVerdef = 0x6ffffffd;
        private const uint ShtGnuVerneed = 0x6ffffffe;
        /// <summary>The <c>VER_FLG_WEAK</c> bit of <c>vna_flags</c>.</summary>
        public const ushort VerFlagWeak = 0x2;

        /// <summary>The version requirements recorded in an ELF file.</summary>
        public static List<VersionNeed> ReadNeeds(byte[] elf)
        {
            var result = new List<VersionNeed>();
            foreach (var (offset, size, strtab, count) in Sections(elf, ShtGnuVerneed))
            {
                long vn = offset;
                for (var i = 0; i < count && vn + 16 <= offset + size; i++)
                {
                    int cnt = U16(elf, vn + 2);
                    string file = Str(elf, strtab, U32(elf, vn + 4));
                    long aux = vn + U32(elf, vn + 8);
                    for (var j = 0; j < cnt; j++)
                    {
                        result.Add(new VersionNeed
                        {
                            File = file,
                            Version = Str(elf, strtab, U32(elf, aux + 8)),
                            Weak = (U16(elf, aux + 4) & VerFlagWeak) != 0,
                            FlagsOffset = aux + 4,
                        });
                        uint next = U32(elf, aux + 12);
                        if (next == 0) break;
                        aux += next;
                    }
                    uint vnNext = U32(elf, vn + 12);
                    if (vnNext == 0) break;
                    vn += vnNext;
                }
            }
            return result;
        }

        /// <summary>The version names a shared library defines (its <c>.gnu.version_d</c>), e.g. every <c>GLIBCXX_*</c>.</summary>
        public static HashSet<string> ReadDefinitions(byte[] elf)
        {
            var result = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (offset, size, strtab, count) in Sections(elf, ShtGnuVerdef))
            {
                long vd = offset;
                for (var i = 0; i < count && vd + 20 <= offset + size; i++)
                {
                    int cnt = U16(elf, vd + 6);
                    long aux = vd + U32(elf, vd + 12);
                    if (cnt > 0) result.Add(Str(elf, strtab, U32(elf, aux)));
                    uint next = U32(elf, vd + 16);
                    if (next == 0) break;
                    vd += next;
                }
            }
            return result;
        }

        /// <summary>
        /// The needs of <paramref name="elf"/> on <paramref name="libraryFile"/> that the library at hand
        /// (its definitions <paramref name="available"/>) does not provide and that are not yet weak.
        /// </summary>
        public static List<VersionNeed> Unsatisfied(byte[] elf, string libraryFile, ISet<string> available) =>
            ReadNeeds(elf).Where(n => n.File == libraryFile && !n.Weak && !available.Contains(n.Version)).ToList();

        /// <summary>Marks the given needs weak in place; returns how many changed.</summary>
        public static int MarkWeak(byte[] elf, IEnumerable<VersionNeed> needs)
        {
            var changed = 0;
            foreach (var n in needs)
            {
                var flags = (ushort)U16(elf, n.FlagsOffset);
                if ((flags & VerFlagWeak) != 0) continue;
                flags |= VerFlagWeak;
                elf[n.FlagsOffset] = (byte)(flags & 0xff);
                elf[n.FlagsOffset + 1] = (byte)(flags >> 8);
                n.Weak = true;
                changed++;
            }
            return changed;
        }

        /// <summary>The first libstdc++.so.6 the dynamic loader would find in the usual places, or null.</summary>
        public static string? FindSystemLibStdCxx()
        {
            var dirs = new List<string>();
            var ld = Environment.GetEnvironmentVariable("LD_LIBRARY_PATH");
            if (!string.IsNullOrEmpty(ld)) dirs.AddRange(ld.Split(new[] { ':' }, StringSplitOptions.RemoveEmptyEntries));
            dirs.AddRange(new[] { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib",
                                  "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu" });
            return dirs.Select(d => Path.Combine(d, "libstdc++.so.6")).FirstOrDefault(File.Exists);
        }

        /// <summary>True when the bytes start with the ELF64 little-endian magic.</summary>
        public static bool IsElf64(byte[] elf) =>
            elf.Length > 64 && elf[0] == 0x7f && elf[1] == (byte)'E' && elf[2] == (byte)'L' && elf[3] == (byte)'F' && elf[4] == 2 && elf[5] == 1;

        private static IEnumerable<(long Offset, long Size, long StrTab, int Count)> Sections(byte[] elf, uint type)
        {
            if (!IsElf64(elf)) throw new InvalidDataException("not an ELF64 little-endian file");
            long shoff = (long)U64(elf, 0x28);
            int shentsize = U16(elf, 0x3A), shnum = U16(elf, 0x3C);
            for (var i = 0; i < shnum; i++)
            {
                long sh = shoff + (long)i * shentsize;
                if (sh + 64 > elf.Length) yield break;
                if (U32(elf, sh + 4) != type) continue;
                long offset = (long)U64(elf, sh + 0x18), size = (long)U64(elf, sh + 0x20);
                uint link = U32(elf, sh + 0x28), info = U32(elf, sh + 0x2C);
                long strtab = (long)U64(elf, shoff + (long)link * shentsize + 0x18);
                yield return (offset, size, strtab, (int)info);
            }
        }

        private static int U16(byte[] b, long o) => b[o] | (b[o + 1] << 8);
        private static uint U32(byte[] b, long o) => (uint)(b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24));
        private static ulong U64(byte[] b, long o) => U32(b, o) | ((ulong)U32(b, o + 4) << 32);
        private static string Str(byte[] b, long table, uint index)
        {
            long start = table + index, end = start;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, (int)start, (int)(end - start));
        }
    }

#if !FUNCTIONAL_LIBRARY
    /// <summary>
    /// MSBuild task: marks the GLIBCXX versions that libLibTorchSharp.so needs but the system's libstdc++ lacks as weak,
    /// so glibc loads it on Debian 12 (Functional's README, "What the build does to libtorch"). A no-op when nothing is missing.
    /// </summary>
    public class PatchLibStdCxxNeeds : Microsoft.Build.Utilities.Task
    {
        /// <summary>The ELF files to check and patch in place (copies under the build's output folder).</summary>
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        /// <inheritdoc />
        public override bool Execute()
        {
            var libstdcxx = ElfSymbolVersions.FindSystemLibStdCxx();
            if (libstdcxx is null)
            {
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, "Functional: no system libstdc++.so.6 found; nothing to patch.");
                return true;
            }
            var available = ElfSymbolVersions.ReadDefinitions(File.ReadAllBytes(libstdcxx));
            foreach (var item in Files)
            {
                var path = item.ItemSpec;
                try
                {
                    if (!File.Exists(path)) continue;
                    var bytes = File.ReadAllBytes(path);
                    if (!ElfSymbolVersions.IsElf64(bytes)) continue;
                    var missing = ElfSymbolVersions.Unsatisfied(bytes, "libstdc++.so.6", available);
                    if (missing.Count == 0) continue;
                    ElfSymbolVersions.MarkWeak(bytes, missing);
                    var tmp = path + ".functional-tmp";
                    File.WriteAllBytes(tmp, bytes);
                    File.Copy(tmp, path, overwrite: true);
                    File.Delete(tmp);
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High,
                        $"Functional: {libstdcxx} lacks {string.Join(", ", missing.Select(m => m.Version))}; marked weak in {path}.");
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or IndexOutOfRangeException)
                {
                    // Not fatal: at run time Functional.Torch.Native.LibTorch patches a copy in its per-user cache folder instead.
                    Log.LogWarning(null, "FUNCTIONAL001", null, path, 0, 0, 0, 0,
                        $"Functional.Torch could not make {path} loadable with {libstdcxx} ({e.Message}). The app will still run: at start-up " +
                        "Functional's loader writes a patched copy under ~/.cache/functional (or FUNCTIONAL_NATIVE_CACHE). Suppress with NoWarn FUNCTIONAL001.");
                }
            }
            return true;
        }
    }
#endif
}

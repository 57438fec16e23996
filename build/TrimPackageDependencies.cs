#nullable enable
// MSBuild inline task (build/PackageDependencies.targets): removes from a packed .nupkg/.snupkg's nuspec the dependencies
// that Paket lists for a project only because they are transitive (obj/<project>.references, third field "Transitive").
// They stay ordinary references in the build, so projects in this repository that reference the project still get their
// assets (native libraries included); package consumers get them through the direct dependencies' own nuspecs.
using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Xml.Linq;

namespace Functional.Build
{
    public class TrimTransitiveDependencies : Microsoft.Build.Utilities.Task
    {
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Packages { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        [Microsoft.Build.Framework.Required]
        public string ReferencesFile { get; set; } = "";

        public override bool Execute()
        {
            if (!File.Exists(ReferencesFile)) return true;
            var transitive = new HashSet<string>(
                File.ReadAllLines(ReferencesFile).Select(l => l.Split(',')).Where(f => f.Length > 2 && f[2] == "Transitive").Select(f => f[0]),
                StringComparer.OrdinalIgnoreCase);
            if (transitive.Count == 0) return true;
            foreach (var item in Packages)
            {
                var path = item.ItemSpec;
                if (!File.Exists(path)) continue;
                using var zip = ZipFile.Open(path, ZipArchiveMode.Update);
                var entry = zip.Entries.FirstOrDefault(e => !e.FullName.Contains('/') && e.FullName.EndsWith(".nuspec", StringComparison.OrdinalIgnoreCase));
                if (entry is null) continue;
                XDocument doc;
                using (var s = entry.Open()) doc = XDocument.Load(s);
                var removed = doc.Descendants().Where(e => e.Name.LocalName == "dependency" && transitive.Contains((string?)e.Attribute("id") ?? "")).ToList();
                if (removed.Count == 0) continue;
                foreach (var d in removed) d.Remove();
                var name = entry.FullName;
                entry.Delete();
                using (var s = zip.CreateEntry(name, CompressionLevel.Optimal).Open()) doc.Save(s);
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal,
                    $"{Path.GetFileName(path)}: left out transitive dependencies {string.Join(", ", removed.Select(d => (string?)d.Attribute("id")))}.");
            }
            return true;
        }
    }
}

using System.Text.RegularExpressions;

namespace Functional.Shapes;

/// <summary>Keras's naming rules (keras/src/utils/naming.py), used by layers, initializers and configs alike.</summary>
public static partial class Naming
{
    /// <summary>Keras's <c>to_snake_case</c>: <c>Conv2D</c> → <c>conv2d</c>, <c>GlobalAveragePooling2D</c> → <c>global_average_pooling2d</c>.</summary>
    public static string ToSnakeCase(string name)
    {
        var s = NonWord().Replace(name, "");
        s = UpperWord().Replace(s, "$1_$2");
        s = LowerUpper().Replace(s, "$1_$2");
        return s.ToLowerInvariant();
    }

    [GeneratedRegex(@"\W+")] private static partial Regex NonWord();
    [GeneratedRegex("(.)([A-Z][a-z]+)")] private static partial Regex UpperWord();
    [GeneratedRegex("([a-z])([A-Z])")] private static partial Regex LowerUpper();
}
